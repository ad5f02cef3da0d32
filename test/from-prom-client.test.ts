// The worked migration of docs/from-prom-client.md, run: a piscina service with prom-client
// metrics (before: the server's scrape sees none of the pool threads' counts) and the same
// service on atomic-stats (after: every count, exact). The doc quotes these files.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runOk } from './helpers/processes.js';

// Killed (and the test failed, saying so) if it has not ended after 60 s.
const run = async (side: 'before' | 'after') =>
  (await runOk(process.execPath, [new URL(`./fixtures/from-prom-client/${side}/main.mjs`, import.meta.url).pathname], { cwd: new URL('..', import.meta.url).pathname, timeoutMs: 60_000 })).stdout;
const line = (text: string, re: RegExp) => text.split('\n').find((l) => re.test(l));

describe('migrating a piscina service from prom-client', () => {
  it('before: the scrape of the server thread has none of the 200 jobs', async () => {
    const text = await run('before');
    expect(text).toContain('# TYPE jobs_total counter');
    expect(line(text, /^jobs_total\{/)).toBeUndefined();
    expect(line(text, /^job_latency_seconds_count/)).toBeUndefined();
  }, 120_000);

  it('after: every job of every pool thread, exact, with the same names and types', async () => {
    const text = await run('after');
    expect(line(text, /^jobs_total\{outcome="ok",queue="mail"\}/)).toBe('jobs_total{outcome="ok",queue="mail"} 100');
    expect(line(text, /^jobs_total\{outcome="ok",queue="sms"\}/)).toBe('jobs_total{outcome="ok",queue="sms"} 100');
    expect(line(text, /^job_duration_seconds_count\{queue="mail"\}/)).toBe('job_duration_seconds_count{queue="mail"} 100');
    expect(line(text, /^job_latency_seconds_count\{queue="sms"\}/)).toBe('job_latency_seconds_count{queue="sms"} 100');
    // sms jobs: ms = 0, 2, ..., 48, four times over, observed in seconds.
    expect(Number(line(text, /^job_latency_seconds_sum\{queue="sms"\}/)!.split(' ')[1])).toBeCloseTo(2.4, 9);
    expect(text).toContain('# TYPE job_latency_seconds summary');
  }, 120_000);

  it('the task file changes by one comment line, the metrics file by its definitions only', () => {
    const read = (side: string, f: string) => readFileSync(new URL(`./fixtures/from-prom-client/${side}/${f}`, import.meta.url), 'utf8').split('\n');
    const before = read('before', 'task.mjs');
    const after = read('after', 'task.mjs');
    expect(after.slice(1)).toEqual(before.slice(1));
  });
});
