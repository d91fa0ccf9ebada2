// libbpf's "?" section prefix (no autoload, used by the kernel selftests: SEC("?raw_tp"), SEC("?socket")) does
// not change the program type.

import { describe, expect, it } from 'vitest';
import { progTypeForSection } from '../../src/elf/sections.js';

describe('"?" section prefix', () => {
  it('gives the type of the name without it', () => {
    expect(progTypeForSection('?socket')).toMatchObject({ typeName: 'socket_filter', unsupported: false });
    expect(progTypeForSection('?tc')).toEqual(progTypeForSection('tc'));
    expect(progTypeForSection('?raw_tp')).toMatchObject({ typeName: 'raw_tracepoint', unsupported: true });
    expect(progTypeForSection('?nonsense')).toBeUndefined();
  });
});
