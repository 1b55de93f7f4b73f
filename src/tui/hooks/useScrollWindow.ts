import { useRef } from 'react';

/**
 * First index of the `height` rows shown of a `count`-long list, keeping the
 * cursor visible. The window moves only when the cursor would leave it, so
 * the list does not jump around under the reader.
 */
export function useScrollWindow(cursor: number, height: number, count: number): number {
  const top = useRef(0);
  const rows = Math.max(1, height);
  let next = top.current;
  if (cursor < next) next = cursor;
  if (cursor >= next + rows) next = cursor - rows + 1;
  next = Math.max(0, Math.min(next, count - rows));
  top.current = next;
  return next;
}
