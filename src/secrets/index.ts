export * from './keyring';
export * from './aead';
