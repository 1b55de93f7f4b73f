import { useContext, type ReactNode } from 'react';
import { Text } from 'ink';
import { ColorContext } from '../color.js';
import type { Tone } from '../format.js';

export interface PaintProps {
  color?: Tone;
  bold?: boolean;
  dim?: boolean;
  inverse?: boolean;
  /** Screen lines never wrap: a wrapped table row would push the layout past the terminal. */
  wrap?: 'truncate' | 'wrap';
  children: ReactNode;
}

/** Text with styles that all disappear under NO_COLOR, so meaning never rests on colour alone. */
export function Paint({ color, bold, dim, inverse, wrap = 'truncate', children }: PaintProps) {
  const colored = useContext(ColorContext);
  if (!colored) return <Text wrap={wrap}>{children}</Text>;
  return (
    <Text wrap={wrap} color={color} bold={bold} dimColor={dim} inverse={inverse}>
      {children}
    </Text>
  );
}
