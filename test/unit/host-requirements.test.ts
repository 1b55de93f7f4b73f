/**
 * `requires=`: its values as a directive reads them and a job record
 * stores them, this host's figures as the sampler reads them, and the
 * verdict unmetRequirement gives the tick pipeline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseCrontab } from '../../src/daemon/crontab/parse.js';
import { hostRequirements, writeRequirement } from '../../src/daemon/crontab/option-values.js';
import { parseFigureSize, writeFigureSize } from '../../src/daemon/crontab/size.js';
import type { HostRequirement } from '../../src/daemon/crontab/types.js';
import { decodeJobRecord, encodeJobRecord, JobRecordError, sameDefinition, type JobRecord } from '../../src/daemon/coordination/etcd/job-record.js';
import { HostFigureSampler, publishedFigures, type FigureSources, type HostFigures } from '../../src/daemon/ticks/host-figures.js';
import { unmetRequirement } from '../../src/daemon/ticks/host-requirements.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

function requiresOf(value: string): HostRequirement[] {
  const result = parseCrontab(`#dcron name=heavy requires=${value}\n0 * * * * /usr/local/bin/reindex\n`, { file: 'crontab', defaultTz: 'UTC' });
  assert.deepEqual(result.diagnostics, []);
  return result.jobs[0].options.requires!;
}

/* ---- sizes ---- */

test('a requirement size takes decimals and the letters df -h prints, binary as there', () => {
  assert.equal(parseFigureSize('2GiB'), 2 * GiB);
  assert.equal(parseFigureSize('1.5G'), 1.5 * GiB);
  assert.equal(parseFigureSize('16g'), 16 * GiB);
  assert.equal(parseFigureSize('512M'), 512 * MiB);
  assert.equal(parseFigureSize('10GB'), 10_000_000_000);
  assert.equal(parseFigureSize('2TiB'), 2 * 1024 ** 4);
  assert.equal(parseFigureSize('4096'), 4096);
  assert.equal(parseFigureSize('1.3G'), Math.round(1.3 * GiB), 'rounded to a whole byte');
  for (const bad of ['', 'G', '1.G', '-1G', '2XB', '1e3', '2 GiB 3', `${Number.MAX_SAFE_INTEGER}K`]) assert.equal(parseFigureSize(bad), null, bad);
});

test('a size is written back as short as it reads back exactly', () => {
  assert.equal(writeFigureSize(2 * GiB), '2GiB');
  assert.equal(writeFigureSize(1.5 * GiB), '1.5GiB');
  assert.equal(writeFigureSize(Math.round(1.3 * GiB)), '1.3GiB');
  assert.equal(writeFigureSize(10_000_000_000), '10GB');
  assert.equal(writeFigureSize(512 * MiB), '512MiB');
  assert.equal(writeFigureSize(1000), '1KB');
  assert.equal(writeFigureSize(999), '999');
  assert.equal(writeFigureSize(0), '0');
  fc.assert(
    fc.property(fc.maxSafeNat(), (bytes) => {
      assert.equal(parseFigureSize(writeFigureSize(bytes)), bytes);
    }),
  );
});

/* ---- the directive and the record ---- */

test('requires= keeps the terms as written, sizes in bytes, figures lowercased', () => {
  assert.deepEqual(requiresOf('mem>=2GiB,load<4'), [
    { figure: 'mem', op: '>=', value: 2 * GiB },
    { figure: 'load', op: '<', value: 4 },
  ]);
  assert.deepEqual(requiresOf('"Disk > 100G , load<=0.5"'), [
    { figure: 'disk', op: '>', value: 100 * GiB },
    { figure: 'load', op: '<=', value: 0.5 },
  ]);
});

test('a bad requires= is a located error at its value and the job is not loaded, as validate shows it', () => {
  const text = '#dcron name=ok\n0 * * * * true\n#dcron name=heavy slots=2 requires=mem>=2GiB,cpu<4\n0 * * * * /usr/local/bin/reindex\n';
  const result = parseCrontab(text, { file: '/etc/dcron/crontab', defaultTz: 'UTC' });
  assert.deepEqual(result.jobs.map((j) => j.name), ['ok']);
  assert.deepEqual(
    result.diagnostics.map(({ severity, file, line, column, message, text: t }) => ({ severity, file, line, column, message, text: t })),
    [{ severity: 'error', file: '/etc/dcron/crontab', line: 3, column: 36, message: "requires: unknown figure 'cpu' (mem, load or disk)", text: 'mem>=2GiB,cpu<4' }],
  );
});

test('the written form of every term reads back as the term', () => {
  const terms = requiresOf('mem>=1.5G,disk<10GB,load>0.75,load<=12');
  assert.equal(terms.map(writeRequirement).join(','), 'mem>=1.5GiB,disk<10GB,load>0.75,load<=12');
  assert.equal(hostRequirements.write(terms), 'mem>=1.5GiB,disk<10GB,load>0.75,load<=12');
  assert.deepEqual(requiresOf(hostRequirements.write(terms)), terms);
});

const [job] = parseCrontab('#dcron name=heavy requires=mem>=2GiB,load<4\n0 * * * * /usr/local/bin/reindex\n', { file: '/etc/dcron/crontab', defaultTz: 'UTC' }).jobs;
const record: JobRecord = { v: 2, def: job, writer: 'node-a', file: '/etc/dcron/crontab', fileHash: 'abc', writtenMs: 1_700_000_000_000 };

test('a job record carries the requirement, and one from a version without requires= reads as any host', () => {
  assert.deepEqual(decodeJobRecord('heavy', encodeJobRecord(record)).def.options.requires, job.options.requires);
  const [plain] = parseCrontab('#dcron name=plain slots=2\n0 * * * * true\n', { file: 'f', defaultTz: 'UTC' }).jobs;
  const wire = JSON.parse(encodeJobRecord({ ...record, def: plain }));
  delete wire.def.options.requires;
  const decoded = decodeJobRecord('plain', JSON.stringify(wire));
  assert.equal(decoded.def.options.requires, null);
  // Appended where the parser puts it: the quick comparison, not the canonical one, finds the job unchanged.
  assert.equal(JSON.stringify(decoded.def.options), JSON.stringify(plain.options));
  assert.ok(sameDefinition(decoded.def, plain));
});

test('a stored requirement no directive could write is refused, naming the field', () => {
  const cases: unknown[] = [
    [],
    'mem>=2GiB',
    [{ figure: 'cpu', op: '<', value: 4 }],
    [{ figure: 'mem', op: '=', value: 4 }],
    [{ figure: 'mem', op: '>=', value: 1.5 }],
    [{ figure: 'mem', op: '>=', value: -1 }],
    [{ figure: 'load', op: '<', value: 0.125 }],
    [{ figure: 'load', op: '<', value: 1e-7 }],
    [{ figure: 'load', op: '<', value: 2e6 }],
    [{ figure: 'load', op: '<', value: '4' }],
    [{ figure: 'load', op: '<', value: 4, note: 'x' }],
    [{ figure: 'load', op: '<', value: 4 }, { figure: 'load', op: '<', value: 3 }],
    [null],
  ];
  for (const requires of cases) {
    const wire = JSON.parse(encodeJobRecord(record));
    wire.def.options.requires = requires;
    assert.throws(
      () => decodeJobRecord('heavy', JSON.stringify(wire)),
      (err: unknown) => err instanceof JobRecordError && /def\.options\.requires/.test(err.reason),
      JSON.stringify(requires),
    );
  }
});

const storedTerm = fc.record({
  figure: fc.constantFrom('mem', 'load', 'disk'),
  op: fc.constantFrom('>=', '>', '<=', '<'),
  value: fc.oneof(fc.maxSafeNat(), fc.nat(1_000_000_000).map((n) => n / 100), fc.double({ min: 0, max: 2e6, noNaN: true }), fc.constantFrom(0, 1e-7, 1e21, -1)),
});

test('a stored requirement decodes exactly when the directive its written form makes sets the same terms', () => {
  fc.assert(
    fc.property(fc.array(storedTerm, { minLength: 1, maxLength: 4 }), (requires) => {
      const accepted = hostRequirements.check(requires) === null;
      const read = hostRequirements.read('requires', hostRequirements.write(requires as HostRequirement[]));
      const same = read.ok && JSON.stringify(read.value) === JSON.stringify(requires);
      assert.equal(accepted, same, JSON.stringify(requires));
    }),
    { numRuns: 500 },
  );
});

/* ---- unmetRequirement ---- */

const figures = (over: Partial<HostFigures> = {}): HostFigures => ({ memFreeBytes: 8 * GiB, load1: 0.5, diskFreeBytes: 100 * GiB, ...over });

test('no requirement, or one the host meets: null', () => {
  assert.equal(unmetRequirement(null, figures()), null);
  assert.equal(unmetRequirement(requiresOf('mem>=2GiB,load<4,disk>=10GiB'), figures()), null);
  assert.equal(unmetRequirement(requiresOf('mem>=8GiB,load<=0.5'), figures()), null, 'the bounds of >= and <= are met');
});

test('a term the host does not meet says the figure and the term', () => {
  assert.equal(unmetRequirement(requiresOf('mem>=2GiB,load<4'), figures({ memFreeBytes: 1.2 * GiB })), 'free memory 1.2 GiB, the job requires mem>=2GiB');
  assert.equal(unmetRequirement(requiresOf('load<4'), figures({ load1: 5.314 })), '1-minute load 5.31, the job requires load<4');
  assert.equal(unmetRequirement(requiresOf('disk>=10GiB'), figures({ diskFreeBytes: 3.4 * GiB })), 'free disk of the data dir 3.4 GiB, the job requires disk>=10GiB');
  assert.equal(unmetRequirement(requiresOf('mem<1GiB'), figures()), 'free memory 8 GiB, the job requires mem<1GiB');
});

test('every unmet term is named, in the order written', () => {
  assert.equal(
    unmetRequirement(requiresOf('load<4,mem>=2GiB,disk>1G'), figures({ memFreeBytes: 512 * MiB, load1: 7 })),
    '1-minute load 7.00, the job requires load<4; free memory 512 MiB, the job requires mem>=2GiB',
  );
});

test('strict bounds: a figure equal to the bound fails > and <, and is shown exactly where rounding would hide why', () => {
  assert.equal(unmetRequirement(requiresOf('load<4'), figures({ load1: 4 })), '1-minute load 4, the job requires load<4');
  assert.equal(unmetRequirement(requiresOf('load<4'), figures({ load1: 4.001 })), '1-minute load 4.001, the job requires load<4');
  assert.equal(unmetRequirement(requiresOf('mem>2GiB'), figures({ memFreeBytes: 2 * GiB })), `free memory 2 GiB (${2 * GiB} bytes), the job requires mem>2GiB`);
  assert.equal(unmetRequirement(requiresOf('mem>=2GiB'), figures({ memFreeBytes: 2 * GiB - 4096 })), `free memory 2 GiB (${2 * GiB - 4096} bytes), the job requires mem>=2GiB`);
});

test('a figure the host could not read meets no term', () => {
  assert.equal(unmetRequirement(requiresOf('disk>=1G'), figures({ diskFreeBytes: null })), 'free disk of the data dir unknown (it could not be read), the job requires disk>=1GiB');
  assert.equal(unmetRequirement(requiresOf('mem>=1G'), figures({ diskFreeBytes: null })), null, 'only terms on that figure');
});

/* ---- the sampler ---- */

const MEMINFO = 'MemTotal:       16303428 kB\nMemFree:          812340 kB\nMemAvailable:    9437184 kB\nBuffers:          120000 kB\n';

function sampler(sources: Partial<FigureSources>, clock = { ms: 0 }) {
  const calls = { meminfo: 0 };
  const all: FigureSources = {
    meminfo: () => (calls.meminfo++, MEMINFO),
    freemem: () => 1 * GiB,
    cgroupHeadroom: () => null,
    load1: () => 1.25,
    diskFree: () => 50 * GiB,
    ...sources,
  };
  return { s: new HostFigureSampler('/var/lib/dcron', { now: () => clock.ms, sources: all }), calls, clock };
}

test('free memory is MemAvailable (page cache counts as free), not MemFree', () => {
  assert.deepEqual(sampler({}).s.sample(), { memFreeBytes: 9 * GiB, load1: 1.25, diskFreeBytes: 50 * GiB });
});

test('without /proc/meminfo free memory is the OS figure; a cgroup limit caps it', () => {
  assert.equal(sampler({ meminfo: () => null }).s.sample().memFreeBytes, 1 * GiB);
  assert.equal(sampler({ meminfo: () => 'MemFree: 12 kB\n' }).s.sample().memFreeBytes, 1 * GiB, 'an old kernel without MemAvailable');
  assert.equal(sampler({ cgroupHeadroom: () => 512 * MiB }).s.sample().memFreeBytes, 512 * MiB);
  assert.equal(sampler({ cgroupHeadroom: () => 20 * GiB }).s.sample().memFreeBytes, 9 * GiB, 'a limit above what the host has free');
});

test('the disk figure is that of the data dir, and null when statfs fails', () => {
  const dirs: string[] = [];
  assert.equal(sampler({ diskFree: (dir) => (dirs.push(dir), 7) }).s.sample().diskFreeBytes, 7);
  assert.deepEqual(dirs, ['/var/lib/dcron']);
  const failing = sampler({
    diskFree: () => {
      throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    },
  });
  assert.equal(failing.s.sample().diskFreeBytes, null);
});

test('one sample serves for a second: a burst of ticks reads the figures once', () => {
  const { s, calls, clock } = sampler({});
  const first = s.sample();
  clock.ms = 999;
  assert.equal(s.sample(), first);
  assert.equal(calls.meminfo, 1);
  clock.ms = 1000;
  s.sample();
  assert.equal(calls.meminfo, 2);
  clock.ms = 500;
  s.sample();
  assert.equal(calls.meminfo, 3, 'a clock that went back does not keep a sample for ever');
});

test('the system sources give figures on this host', () => {
  const f = new HostFigureSampler(process.cwd()).sample();
  assert.ok(f.memFreeBytes > 0 && Number.isSafeInteger(f.memFreeBytes), `memFreeBytes ${f.memFreeBytes}`);
  assert.ok(f.load1 >= 0);
  assert.ok(f.diskFreeBytes !== null && f.diskFreeBytes > 0);
  assert.equal(new HostFigureSampler('/no/such/dir/for/dcron').sample().diskFreeBytes, null);
});

test('figures published by another node are taken when they are figures', () => {
  assert.deepEqual(publishedFigures({ memFreeBytes: 1, load1: 0.5, diskFreeBytes: null }), { memFreeBytes: 1, load1: 0.5, diskFreeBytes: null });
  for (const bad of [undefined, null, 'x', {}, { memFreeBytes: -1, load1: 0, diskFreeBytes: 0 }, { memFreeBytes: 1, load1: '0.5', diskFreeBytes: 0 }, { memFreeBytes: 1, load1: 0 }]) {
    assert.equal(publishedFigures(bad), null, JSON.stringify(bad));
  }
});
