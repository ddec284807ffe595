/**
 * Where serialized TensorRT plans are kept between sessions. Browser-safe: the store and the hash
 * are injected (backends/tensorrt/node.ts installs a file store keyed by SHA-256 in Node); without
 * one, plans live only as long as the session.
 */
export interface TrtPlanStore {
  /** A stable key for the parts (network JSON, weight buffers, build options, TensorRT version, device). */
  key(parts: readonly (string | ArrayBufferView)[]): string;
  get(key: string): Uint8Array | undefined;
  set(key: string, plan: Uint8Array): void;
  /** Where plans go (for messages). */
  readonly where: string;
}

let store: TrtPlanStore | undefined;

export function setTrtPlanStore(s: TrtPlanStore | undefined): void { store = s; }
export function trtPlanStore(): TrtPlanStore | undefined { return store; }
