import { DAY_MS, SECOND_MS, civilFromDays } from './calendar.js';
import { offsetAt } from './zone.js';

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/**
 * A tick as ISO 8601 with the zone's offset at that instant, seconds always
 * shown: `2026-03-29T03:00:00+02:00`. UTC is written `+00:00`, never `Z`,
 * so every line has the same shape. This is DCRON_TICK and `dcron next`.
 */
export function formatTick(ms: number, tz: string): string {
  const offsetMs = offsetAt(tz, ms);
  const wall = Math.floor(ms / SECOND_MS) * SECOND_MS + offsetMs;
  const days = Math.floor(wall / DAY_MS);
  const { year, month, day } = civilFromDays(days);
  const secondOfDay = (wall - days * DAY_MS) / SECOND_MS;
  const time = `${pad(Math.floor(secondOfDay / 3600))}:${pad(Math.floor(secondOfDay / 60) % 60)}:${pad(secondOfDay % 60)}`;
  return `${pad(year, 4)}-${pad(month)}-${pad(day)}T${time}${formatOffset(offsetMs)}`;
}

/** `+02:00`, `-03:30`; local mean time before ~1900 has seconds too (`+00:53:28`). */
function formatOffset(offsetMs: number): string {
  const total = Math.abs(offsetMs) / SECOND_MS;
  const seconds = total % 60;
  const text = `${offsetMs < 0 ? '-' : '+'}${pad(Math.floor(total / 3600))}:${pad(Math.floor(total / 60) % 60)}`;
  return seconds === 0 ? text : `${text}:${pad(seconds)}`;
}
