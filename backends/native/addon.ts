/**
 * The native addon's interface (native/src/addon.cc) and how it is found. Browser-safe: this file
 * imports nothing from Node; src/node-native.ts installs the loader that `require`s the built
 * `.node` file, the way src/node-gpu.ts installs Dawn for WebGPU.
 */

export interface NativeDevice {
  index: number;
  name: string;
  major: number;
  minor: number;
  totalMemory: number;
  multiprocessors: number;
  /** Whether this build holds code that runs there (SASS of its architecture, or PTX to JIT). */
  kernelImage: boolean;
  kernelImageError?: string;
}

export interface NativeLibrary {
  name: 'cublasLt' | 'cudnn' | string;
  /** CMake found its headers when the addon was built. */
  headersAtBuild: boolean;
  /** The soname dlopen accepted at run time (absent: not on this machine). */
  loaded?: string;
}

export interface NativeProbe {
  available: boolean;
  /** Why not: the CUDA error text, e.g. "cudaErrorInsufficientDriver (35): CUDA driver version is insufficient for CUDA runtime version". */
  error?: string;
  errorCode: number;
  runtimeVersion: number;
  /** 0 when there is no driver. */
  driverVersion: number;
  /** Architectures compiled in, e.g. "75,80,86,87,89,90". */
  archs: string;
  devices: NativeDevice[];
  libraries: NativeLibrary[];
}

/**
 * One stream and the device buffers (cudaMalloc) of one execution context. fork() makes another
 * context with its own stream over the same buffers (ids mean the same in both): execution contexts
 * that share one engine's weights and run concurrently.
 */
export interface NativeContext {
  alloc(bytes: number): number;
  free(id: number): void;
  bytes(id: number): number;
  upload(id: number, byteOffset: number, data: ArrayBufferView | ArrayBuffer): void;
  /** Waits for the stream, so earlier launches have finished when it returns. */
  download(id: number, byteOffset: number, bytes: number): ArrayBuffer;
  /** Bindings are [buffer, byteOffset] pairs, buffer -1 for an absent optional tensor. */
  launch(kernel: string, ints: Float64Array, floats: Float32Array, bindings: Float64Array): void;
  synchronize(): void;
  memInfo(): { free: number; total: number };
  allocatedBytes(): number;
  /** Ends this context's stream and graphs; the buffers are freed when no fork holds them any more. */
  dispose(): void;
  /** Absent on an addon built before execution contexts (then one context serves every run). */
  fork?(): NativeContext;
  /**
   * download() without blocking the thread: the copy is queued on the stream now and the wait runs
   * on a worker. Nothing else may be queued on this context's stream until it settles.
   */
  downloadAsync?(id: number, byteOffset: number, bytes: number): Promise<ArrayBuffer>;
  /** The stream's wait off the thread (device-resident outputs: their copies are done when it settles). */
  synchronizeAsync?(): Promise<void>;
  /** Device to device on the stream (buffers of the same memory). */
  copy?(dst: number, dstByteOffset: number, src: number, srcByteOffset: number, bytes: number): void;
}

export interface NativeAddon {
  probe(): NativeProbe;
  /** Unary function names in code order: the activation codes of element-wise and epilogue kernels. */
  functions(): string[];
  kernels(): string[];
  Context: new (device?: number) => NativeContext;
}

/** Returns the addon, or throws an Error saying why it cannot be loaded here. */
export type NativeLoader = () => NativeAddon;

const noLoader: NativeLoader = () => {
  throw new Error('the native backend runs in Node only (import twinfer/node)');
};

let loader: NativeLoader = noLoader;
let loaded: { addon: NativeAddon } | { error: Error } | undefined;

export function setNativeLoader(l: NativeLoader | undefined): void {
  loader = l ?? noLoader;
  loaded = undefined;
}

/** The addon (loaded once); throws with the loader's reason when there is none. */
export function loadNativeAddon(): NativeAddon {
  if (!loaded) {
    try {
      loaded = { addon: loader() };
    } catch (e) {
      loaded = { error: e instanceof Error ? e : new Error(String(e)) };
    }
  }
  if ('error' in loaded) throw loaded.error;
  return loaded.addon;
}
