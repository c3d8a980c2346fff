/** The end of a run: Markdown tables for the README on stdout, and every figure as JSON. */
import { writeFileSync } from 'node:fs';

import type { Machine } from './machine.js';
import type { Timing } from './measure.js';
import type { TargetCheck } from './targets.js';

export interface Table {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly string[])[];
  /** Lines printed under the table. */
  readonly notes?: readonly string[];
}

export interface SectionOutcome {
  readonly tables: readonly Table[];
  readonly targets: readonly TargetCheck[];
  /** Every figure the section measured, for the JSON file. */
  readonly figures: object;
}

export interface RunReport {
  readonly machine: Machine;
  readonly settings: Timing & { readonly quick: boolean; readonly dtype: 'float32' };
  readonly sections: Readonly<Record<string, object>>;
  readonly targets: readonly TargetCheck[];
}

export function renderMarkdown(machine: Machine, timing: Timing, outcomes: readonly SectionOutcome[]): string {
  const targets = outcomes.flatMap((outcome) => outcome.targets);
  const tables = outcomes.flatMap((outcome) => outcome.tables);
  if (targets.length > 0) tables.push(targetTable(targets));
  return [header(machine, timing), ...tables.map(renderTable)].join('\n\n') + '\n';
}

export function writeJson(path: string, report: RunReport): void {
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}

function header(machine: Machine, timing: Timing): string {
  const date = machine.date.slice(0, 16).replace('T', ' ');
  return [
    '## tsshmem benchmark',
    '',
    `${machine.cpu}, ${machine.cores} cores, ${machine.kernel}, Node ${machine.node}, ${date} UTC.`,
    `float32 throughout; each case runs ${timing.warmupSeconds} s of warm-up, then ${timing.seconds} s measured.`,
    'Ratios compare figures measured in this same run.',
  ].join('\n');
}

function targetTable(targets: readonly TargetCheck[]): Table {
  return {
    title: 'Targets',
    columns: ['target', 'measured', 'goal', 'met'],
    rows: targets.map((check) => [check.target, check.measured, check.goal, check.met === null ? '-' : check.met ? 'yes' : 'NO']),
  };
}

function renderTable(table: Table): string {
  const lines = [`### ${table.title}`, '', row(table.columns), row(table.columns.map(() => '---')), ...table.rows.map(row)];
  if (table.notes !== undefined && table.notes.length > 0) lines.push('', ...table.notes);
  return lines.join('\n');
}

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}
