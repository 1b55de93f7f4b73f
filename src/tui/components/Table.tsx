import { Box } from 'ink';
import { useScrollWindow } from '../hooks/useScrollWindow.js';
import { Paint } from './Paint.js';
import { Row, fitColumns, type Cell, type Column } from './Row.js';

export interface TableProps<T> {
  title: string;
  columns: Column[];
  items: readonly T[];
  cursor: number;
  /** Lines available, title and column header included. */
  height: number;
  width: number;
  cells(item: T): Array<Cell | string>;
  empty: string;
}

/**
 * A titled, virtualised table: only the rows that fit are rendered, so a list
 * of 10,000 jobs costs the same as one of 20.
 */
export function Table<T>({ title, columns, items, cursor, height, width, cells, empty }: TableProps<T>) {
  const rows = Math.max(1, height - 2);
  const top = useScrollWindow(cursor, rows, items.length);
  const shown = fitColumns(columns, width);
  const pick = (item: T) => {
    const all = cells(item);
    return shown.map((c) => all[columns.findIndex((x) => x.title === c.title)]);
  };
  const position = items.length === 0 ? '' : `  ${cursor + 1}/${items.length}`;
  return (
    <Box flexDirection="column" height={height} width={width} overflow="hidden">
      <Paint bold>{title + position}</Paint>
      <Row columns={shown} cells={shown.map((c) => c.title)} header />
      {items.length === 0 ? (
        <Paint dim>{empty}</Paint>
      ) : (
        items.slice(top, top + rows).map((item, i) => <Row key={top + i} columns={shown} cells={pick(item)} selected={top + i === cursor} />)
      )}
    </Box>
  );
}
