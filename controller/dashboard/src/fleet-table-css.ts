import { BREAKPOINTS, type Column } from './fleet-columns.js';

/**
 * The fleet grid's CSS, generated from the column list: the tracks and the
 * table's minimum width (the sum of the shown columns' least widths) for the
 * full window and below each breakpoint, and the rule that hides a column's
 * cells there. Narrower breakpoints come later, so they win where both match.
 */
export function fleetTableCss(columns: readonly Column[]): string {
  const level = (shown: readonly Column[]) => `--cols: ${shown.map((c) => c.width.track).join(' ')}; --table-min: ${shown.reduce((sum, c) => sum + c.width.minPx, 0)}px;`;
  const rules = [`:root { ${level(columns)} }`];
  for (const below of [...BREAKPOINTS].sort((a, b) => b - a)) {
    const shown = columns.filter((c) => c.hideBelow === undefined || c.hideBelow < below);
    rules.push(`@media (max-width: ${below - 1}px) {\n  :root { ${level(shown)} }\n  .cell.hide-below-${below} { display: none; }\n}`);
  }
  return rules.join('\n') + '\n';
}
