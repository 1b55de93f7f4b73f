import { useInput, type Key } from 'ink';
import { keypressesOf } from '../keypress.js';

/** Ink's useInput, but called once per keypress even when several arrive in one read. */
export function useKeypresses(handler: (input: string, key: Key) => void): void {
  useInput((input, key) => {
    for (const k of keypressesOf(input, key)) handler(k.input, k.key);
  });
}
