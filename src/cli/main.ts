#!/usr/bin/env node
// bpfvm command line. Kept small so that `bpfvm --version` starts fast: each command's module is imported
// only when that command runs.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Command {
  summary: string;
  load: () => Promise<{ main: (argv: string[]) => Promise<number> | number }>;
}

const COMMANDS: Record<string, Command> = {
  demo: { summary: 'run the bundled demo (a fixture object, disassembled and run)', load: () => import('./demo.js') },
  inspect: { summary: 'list the programs, maps, license, BTF and annotations of an object', load: () => import('./inspect.js') },
  verify: { summary: 'the kernel verifier\'s verdict and log for each program of an object', load: () => import('./verify.js') },
  test: { summary: 'run the selftest annotations (__success, __msg, __retval, ...) of objects like test_progs', load: () => import('./test.js') },
  disasm: { summary: 'disassemble an object, raw bytecode or hex in the kernel\'s syntax', load: () => import('./disasm.js') },
  asm: { summary: 'assemble kernel-syntax text into raw bytecode', load: () => import('./asm.js') },
  bench: { summary: 'time a program over many runs; fail on a regression against a baseline', load: () => import('./bench.js') },
  exec: { summary: 'run a raw or assembled program on a memory buffer (r1 = buffer, r2 = length)', load: () => import('./exec.js') },
  run: { summary: 'run a program of an object like BPF_PROG_TEST_RUN (bpftool prog run)', load: () => import('./run.js') },
  sockmap: { summary: 'run a case of the kernel\'s test_sockmap (or its built-in list) on the socket model', load: () => import('./sockmap.js') },
  scenario: { summary: 'run a JSON socket scenario (sockets, maps, programs, sends, expectations) on the socket model', load: () => import('./scenario.js') },
  'conformance-plugin': { summary: 'plugin for the bpf_conformance ISA suite (program hex on stdin)', load: () => import('./conformance.js') },
};

function version(): string {
  // dist/src/cli/main.js or src/cli/main.ts: walk up to the package.json named bpfvm.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let k = 0; k < 5; k++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'bpfvm') return pkg.version ?? 'unknown';
    } catch {
      // not here; keep walking up
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

function usage(): string {
  const names = Object.keys(COMMANDS);
  const w = Math.max(...names.map((n) => n.length));
  return [
    'usage: bpfvm <command> [options]',
    '',
    'eBPF interpreter and verifier with an in-memory model of sockmap/sockhash.',
    '',
    'commands:',
    ...names.map((n) => `  ${n.padEnd(w)}  ${COMMANDS[n]!.summary}`),
    '',
    'options:',
    '  --version  print the version',
    '  --help     this text; `bpfvm <command> --help` for a command',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(usage() + '\n');
    return cmd === undefined ? 2 : 0;
  }
  if (cmd === '--version' || cmd === '-V' || cmd === 'version') {
    process.stdout.write(`bpfvm ${version()}\n`);
    return 0;
  }
  const c = COMMANDS[cmd];
  if (!c) {
    process.stderr.write(`bpfvm: unknown command "${cmd}"\n\n${usage()}\n`);
    return 2;
  }
  const mod = await c.load();
  return await mod.main(rest);
}

// Output piped into `head` and the like: a closed pipe ends the command quietly, as for other Unix tools.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  async (err: unknown) => {
    const { reportError } = await import('./common.js');
    process.exitCode = reportError(err);
  },
);
