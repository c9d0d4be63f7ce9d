/**
 * Errors as the management server reports them: HTTP status = errorcode (ApiErrorCode), plus the
 * `cserrorcode` of the Java exception that caused it (CSExceptionErrorCode; 9999 for a bare
 * ServerApiException). A 401 carries no cserrorcode, as on a real server.
 */
export class ApiError extends Error {
  constructor(
    readonly errorcode: number,
    readonly errortext: string,
    /** null: no cserrorcode in the body (401 and proxy-style errors). */
    readonly cserrorcode: number | null = CS_ERROR_CODE_FOR[errorcode] ?? 9999,
    /** Extra response headers (Retry-After on 429). */
    readonly headers: Record<string, string> = {},
  ) {
    super(errortext);
    this.name = 'ApiError';
  }
}

/** The cserrorcode of the exception CloudStack typically raises for each ApiErrorCode. */
export const CS_ERROR_CODE_FOR: Record<number, number> = {
  429: 4545, // RequestLimitException
  431: 4350, // InvalidParameterValueException
  530: 4250, // CloudRuntimeException
  531: 4365, // PermissionDeniedException
  532: 4370, // ResourceAllocationException
  533: 4325, // InsufficientCapacityException
  534: 4380, // ResourceUnavailableException
  536: 4375, // ResourceInUseException
};

/** Required parameter absent (ParamProcessWorker: a bare ServerApiException, cserrorcode 9999). */
export function missingParam(commandLower: string, name: string): ApiError {
  return new ApiError(431, `Unable to execute API command ${commandLower} due to missing parameter ${name}`, 9999);
}

/** A value that does not parse or names no entity (ParamProcessWorker's wording). */
export function invalidParamValue(commandLower: string, name: string, value: string): ApiError {
  return new ApiError(
    431,
    `Unable to execute API command ${commandLower} due to invalid value. Invalid parameter ${name} value=${value} due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.`,
    9999,
  );
}

/** InvalidParameterValueException raised by a service. */
export function invalidParameter(text: string): ApiError {
  return new ApiError(431, text, 4350);
}

/** PermissionDeniedException: the entity exists but belongs to another account. */
export function permissionDenied(text: string): ApiError {
  return new ApiError(531, text, 4365);
}

/** CloudRuntimeException. */
export function internalError(text: string): ApiError {
  return new ApiError(530, text, 4250);
}

export const UNAUTHORIZED_TEXT = 'unable to verify user credentials and/or request signature';
