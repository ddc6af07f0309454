/**
 * BENCHMARKS.md holds every benchmark's latest numbers; each script owns one section, between
 * `<!-- bench:<key> start -->` and `<!-- bench:<key> end -->`, and replaces only that one, so the
 * scripts can run in any order and hand-written text around the sections stays.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const benchmarksFile = fileURLToPath(new URL('../BENCHMARKS.md', import.meta.url));

/** Replaces (or appends, under `## title`) the section `key` of BENCHMARKS.md with `markdown`. */
export function writeBenchmarkSection(key: string, title: string, markdown: string, file = benchmarksFile): void {
  const start = `<!-- bench:${key} start -->`;
  const end = `<!-- bench:${key} end -->`;
  const block = `${start}\n${markdown.trim()}\n${end}`;
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  const next =
    from >= 0 && to > from
      ? `${text.slice(0, from)}${block}${text.slice(to + end.length)}`
      : `${text.trimEnd()}\n\n## ${title}\n\n${block}\n`;
  writeFileSync(file, next);
}
