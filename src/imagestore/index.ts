/** The image store ("the web server" of the seed): server, client and URL signing. */
export { startImageStore, createImageStoreHandler, parseRange, type ImageStoreOptions, type RunningImageStore } from './server';
export { ImageStoreClient, type ImageStoreClientOptions, type UploadOptions, type UploadResult } from './client';
export { signDownloadUrl, verifyDownloadSignature, MAX_URL_TTL_SECONDS, type SignedUrl, type SignatureCheck } from './signing';
export { validateKey, keyToPath, InvalidKeyError, MAX_KEY_LENGTH } from './keys';
export { ImageStorage, ChecksumMismatchError, KeyConflictError, TooLargeError, type ImageMeta, type PutOutcome } from './storage';
export { imageStoreOptionsFromEnv, ImageStoreEnvError } from './env';
