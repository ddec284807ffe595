/** The one error type twinfer throws: a stable code plus, where it applies, the node at fault. */
export type TwinferErrorCode =
  | 'INVALID_MODEL'      // bytes are not a valid ONNX model, or the graph is malformed
  | 'UNSUPPORTED_OP'     // op (or domain) outside the supported set
  | 'UNSUPPORTED_OPSET'  // opset newer than supported
  | 'UNSUPPORTED'        // a feature of a supported op that twinfer does not implement
  | 'SHAPE_MISMATCH'     // shapes incompatible with an op
  | 'INVALID_ARGUMENT'   // bad API / CLI argument, bad feeds
  | 'EXTERNAL_DATA'      // external data missing or outside the model folder
  | 'RUNTIME'            // failure while running a kernel
  | 'IO';                // file read / write failure

export interface TwinferErrorDetails {
  node?: string;
  opType?: string;
  cause?: unknown;
}

export class TwinferError extends Error {
  readonly code: TwinferErrorCode;
  readonly node?: string;
  readonly opType?: string;

  constructor(code: TwinferErrorCode, message: string, details: TwinferErrorDetails = {}) {
    const where = details.node !== undefined || details.opType !== undefined
      ? ` [node ${details.node ?? '?'} (${details.opType ?? '?'})]` : '';
    super(`${code}: ${message}${where}`, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.name = 'TwinferError';
    this.code = code;
    if (details.node !== undefined) this.node = details.node;
    if (details.opType !== undefined) this.opType = details.opType;
  }
}

/** Wraps any thrown value into a TwinferError (keeps TwinferErrors as they are). */
export function asTwinferError(e: unknown, code: TwinferErrorCode, details: TwinferErrorDetails = {}): TwinferError {
  if (e instanceof TwinferError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new TwinferError(code, msg, { ...details, cause: e });
}
