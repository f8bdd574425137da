/** Writes one benchmark's section of docs/performance.md, between markers, leaving other sections alone. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const docPath = fileURLToPath(new URL('../docs/performance.md', import.meta.url));

export function writePerformanceSection(bench: string, markdown: string): void {
  const start = `<!-- bench:${bench}:start -->`;
  const end = `<!-- bench:${bench}:end -->`;
  const section = `${start}\n${markdown.trim()}\n${end}`;
  const current = existsSync(docPath)
    ? readFileSync(docPath, 'utf8')
    : '# Performance\n\nFigures written by the benchmark commands (`npm run bench:*`); rerun them to refresh.\n';
  const pattern = new RegExp(`${start}[\\s\\S]*?${end}`);
  const next = pattern.test(current) ? current.replace(pattern, section) : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(docPath, next);
}

/** The p-th percentile (0–100) of a list of numbers, nearest-rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** A plain-text table for the terminal and a Markdown table for the docs, from the same rows. */
export function tables(header: string[], rows: (string | number)[][]): { text: string; markdown: string } {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => row[column]!.length)));
  const text = cells.map((row) => row.map((cell, column) => cell.padStart(widths[column]!)).join('  ')).join('\n');
  const markdown = [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
  return { text, markdown };
}
