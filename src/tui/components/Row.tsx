import { Box } from 'ink';
import type { Tone } from '../format.js';
import { Paint } from './Paint.js';

export interface Column {
  title: string;
  /** Fixed width; columns without one share what the fixed ones leave. */
  width?: number;
  /** Left out, last first, when the terminal is too narrow for every column. */
  optional?: boolean;
}

/** Flexible columns get at least this much before optional columns give way. */
const MIN_FLEX = 12;
/** The cursor column. */
const MARKER = 2;

/**
 * The columns that fit in `width`, each with a whole-number width: a narrow
 * terminal loses optional columns instead of squashing names, and flexible
 * columns split what is left here rather than in the layout engine, whose
 * fractional widths can round a row one cell past the edge.
 */
export function fitColumns(columns: Column[], width: number): Array<Column & { width: number }> {
  const need = (cols: Column[]) => MARKER + cols.reduce((n, c) => n + (c.width ?? MIN_FLEX) + 1, 0);
  const shown = [...columns];
  for (let i = shown.length - 1; i >= 0 && need(shown) > width; i--) if (shown[i].optional) shown.splice(i, 1);
  const flexible = shown.filter((c) => c.width === undefined).length;
  const spare = Math.max(0, width - need(shown.map((c) => ({ ...c, width: c.width ?? 0 }))));
  let handedOut = 0;
  return shown.map((c) => {
    if (c.width !== undefined) return { ...c, width: c.width };
    handedOut++;
    // The last flexible column takes the remainder of the division.
    const share = handedOut === flexible ? spare - Math.floor(spare / flexible) * (flexible - 1) : Math.floor(spare / flexible);
    return { ...c, width: Math.max(1, share) };
  });
}

export interface Cell {
  text: string;
  tone?: Tone;
}

export interface RowProps {
  columns: Array<Column & { width: number }>;
  cells: Array<Cell | string>;
  selected?: boolean;
  header?: boolean;
}

/** One table line: fixed cells, each truncated with … so the row can never wrap. */
export function Row({ columns, cells, selected = false, header = false }: RowProps) {
  return (
    <Box height={1} overflow="hidden">
      <Box width={MARKER} flexShrink={0}>
        <Paint color="cyan" bold>{selected ? '›' : ' '}</Paint>
      </Box>
      {columns.map((col, i) => {
        const cell = cells[i] ?? '';
        const { text, tone } = typeof cell === 'string' ? { text: cell, tone: undefined } : cell;
        return (
          <Box key={col.title} width={col.width} flexShrink={0} marginRight={1}>
            <Paint color={tone} bold={selected || header} dim={header}>
              {text}
            </Paint>
          </Box>
        );
      })}
    </Box>
  );
}
