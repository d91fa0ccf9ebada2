// BTF: types, parsing, .BTF.ext, CO-RE and the built-in kernel table.
export * from './types.js';
export { parseBtf, parseBtfHeader } from './parse.js';
export { parseBtfExt, btfString } from './ext.js';
export { declTags, findTypesByName, resolveType, sizeOf, skipModsAndTypedefs, typeById, typeString } from './resolve.js';
export { applyCoreRelo, CORE_RELO_KIND, CORE_POISON_IMM, essentialName } from './core.js';
export { kernelBtf, KERNEL_STRUCTS } from './kernel.js';
