// Minimal typing for elfy (CommonJS). Only the fields the loader reads are declared.
declare module 'elfy' {
  interface ElfySection {
    name: string;
    /** Section type name ("progbits", "symtab", "rel", "nobits", ...) or the number when unknown. */
    type: string | number;
    flags: Record<string, boolean>;
    off: number;
    size: number;
    link: number;
    info: number;
    data: Buffer;
  }
  interface ElfyFile {
    class: string;
    endian: string;
    type: string | undefined;
    machine: string | undefined;
    shoff: number;
    shnum: number;
    shentsize: number;
    shstrndx: number;
    body: { sections: ElfySection[] };
  }
  const elfy: { parse(buf: Buffer): ElfyFile };
  export default elfy;
}
