/**
 * Installs a fresh emulated addon (emulator.ts) as the CUDA backend's addon for one test file:
 * before its tests, the loader returns it and the CUDA state is reset; after them, both are undone.
 * `emu.addon` is the addon of the file (its contexts and launches are what tests inspect).
 */
import { afterAll, beforeAll } from 'vitest';
import { setNativeLoader, type NativeAddon } from '../../backends/native/addon.js';
import { resetCuda } from '../../backends/native/device.js';
import { emulatedAddon } from './emulator.js';

export function useEmulatedAddon(): { readonly addon: ReturnType<typeof emulatedAddon> } {
  let addon: ReturnType<typeof emulatedAddon> | undefined;
  beforeAll(() => {
    const a = emulatedAddon();
    addon = a;
    setNativeLoader(() => a as NativeAddon);
    resetCuda();
  });
  afterAll(() => { setNativeLoader(undefined); resetCuda(); });
  return {
    get addon() {
      if (!addon) throw new Error('the emulated addon is installed in beforeAll: use it inside tests');
      return addon;
    },
  };
}
