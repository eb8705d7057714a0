// A restricted reader for Python pickles: the opcodes a torch.save'd state_dict needs (protocols 2 to 5), and no
// others. Pickle is a small stack machine whose GLOBAL opcode names any importable Python callable and whose
// REDUCE opcode calls it: a checkpoint can run arbitrary code in Python's own unpickler. This one never imports
// or calls anything. GLOBAL, REDUCE, BUILD and persistent ids are handed to the caller's `PickleHooks`, which
// map an allow-list of names to inert JavaScript values (pytorch.ts) and refuse everything else by name.
//
// Bounds: every length is checked against the bytes left; the memo, the stack and the MARK nesting are capped,
// integers above 32 bytes are refused, and the values are plain references (a memo entry fetched twice is one
// object, so a "billion laughs" pickle costs no more memory than its own length). Nothing here recurses.

import { UnsupportedError, WeightsError } from '../errors.js';

/** Values an allowed pickle can build. Floats are boxed so that an int and a float stay distinguishable. */
export type PyValue = null | boolean | number | bigint | string | PyFloat | PyTuple | PyList | PyDict | PyOpaque;

export class PyFloat { constructor(readonly value: number) {} }
export class PyTuple { constructor(readonly items: readonly PyValue[]) {} }
export class PyList { readonly items: PyValue[] = []; }
/** A dict or OrderedDict with str/int/bool/None keys, in insertion order. A key set twice is refused. */
export class PyDict {
  readonly map = new Map<string, [PyValue, PyValue]>();
  constructor(readonly ordered = false) {}
  get size(): number { return this.map.size; }
  entries(): IterableIterator<[PyValue, PyValue]> { return this.map.values(); }
}
/** Base of the caller's own values (storage types, tensors, allowed functions). */
export abstract class PyOpaque { abstract readonly pyType: string; }

/** What a hook throws to refuse; the unpickler adds where it happened. `unsupported`: valid but not implemented. */
export class PickleRefusal extends Error {
  constructor(message: string, readonly unsupported = false) { super(message); }
}

export interface PickleHooks {
  /** GLOBAL module.name: an inert stand-in, or a PickleRefusal naming it. */
  global(module: string, name: string): PyValue;
  /** REDUCE: `fn(*args)` for a stand-in that global() returned. */
  reduce(fn: PyValue, args: PyTuple): PyValue;
  /** BUILD: set `state` on `obj`. */
  build(obj: PyValue, state: PyValue): void;
  /** BINPERSID: the object a persistent id refers to. */
  persistentLoad(pid: PyValue): PyValue;
}

/** A hook set that accepts no globals and no persistent ids: for pickles of plain data. */
export const PLAIN_DATA: PickleHooks = {
  global: (m, n) => { throw new PickleRefusal(`refusing the global '${m}.${n}': this pickle may hold plain data only`); },
  reduce: () => { throw new PickleRefusal('REDUCE is not allowed in this pickle'); },
  build: () => { throw new PickleRefusal('BUILD is not allowed in this pickle'); },
  persistentLoad: () => { throw new PickleRefusal('persistent ids are not allowed in this pickle'); },
};

export const LIMITS = {
  /** memo entries (a state dict uses about ten per tensor) */
  memo: 1 << 20,
  /** values on the stack at once (the pickler batches SETITEMS/APPENDS by 1000) */
  stack: 1 << 20,
  /** MARKs open at once (a state dict nests three deep) */
  marks: 256,
  /** bytes of one integer (LONG1/LONG4); torch's legacy magic number takes 10 */
  intBytes: 32,
  /** characters of a GLOBAL's module or name line */
  globalLine: 1024,
};

// Names of the opcodes this reader refuses, for error messages.
const REFUSED: Record<number, string> = {
  0x69: 'INST', 0x6f: 'OBJ', 0x81: 'NEWOBJ', 0x92: 'NEWOBJ_EX', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4',
  0x50: 'PERSID', 0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x49: 'INT',
  0x4c: 'LONG', 0x46: 'FLOAT', 0x70: 'PUT', 0x67: 'GET', 0x32: 'DUP', 0x42: 'BINBYTES', 0x43: 'SHORT_BINBYTES',
  0x8e: 'BINBYTES8', 0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER', 0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS', 0x91: 'FROZENSET',
};

export function describe(v: PyValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number' || typeof v === 'bigint') return `the int ${String(v).slice(0, 40)}`;
  if (typeof v === 'string') return `the str ${JSON.stringify(v.length > 60 ? v.slice(0, 60) + '…' : v)}`;
  if (v instanceof PyFloat) return `the float ${v.value}`;
  if (v instanceof PyTuple) return `a tuple of ${v.items.length}`;
  if (v instanceof PyList) return `a list of ${v.items.length}`;
  if (v instanceof PyDict) return `${v.ordered ? 'an OrderedDict' : 'a dict'} of ${v.size}`;
  return v.pyType;
}

const dictKey = (k: PyValue): string => {
  if (typeof k === 'string') return 's' + k;
  if (typeof k === 'number' || typeof k === 'bigint') return 'i' + String(k);
  if (typeof k === 'boolean') return k ? 'i1' : 'i0'; // hash(True) == hash(1) in Python
  if (k === null) return 'N';
  throw new PickleRefusal(`a dict key that is ${describe(k)} is not supported`);
};

function setItem(d: PyValue | undefined, k: PyValue, v: PyValue): void {
  if (!(d instanceof PyDict)) throw new PickleRefusal(`SETITEM(S) on ${describe(d)}, not a dict`);
  const key = dictKey(k);
  if (d.map.has(key)) throw new PickleRefusal(`a dict key appears twice: ${describe(k)}`);
  d.map.set(key, [k, v]);
}

/**
 * Runs one pickle starting at `start` and returns the value STOP leaves and the offset after STOP.
 * `where` names the pickle (file / entry) in errors; offsets in them are relative to `origin`.
 */
export function unpickle(bytes: Uint8Array, start: number, hooks: PickleHooks, where: string, origin = 0): { value: PyValue; end: number } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const stack: PyValue[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();
  let pos = start, op = 0, opAt = start;

  const need = (n: number, what: string) => {
    if (n > bytes.length - pos) {
      throw new PickleRefusal(what === 'STOP' ? 'the pickle ends before its STOP opcode'
        : `the pickle ends inside ${what} (it needs ${n} more bytes, ${bytes.length - pos} are left)`);
    }
  };
  const push = (v: PyValue) => {
    if (stack.length >= LIMITS.stack) throw new PickleRefusal(`more than ${LIMITS.stack} values on the pickle stack`);
    stack.push(v);
  };
  const pop = (): PyValue => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) {
      throw new PickleRefusal('the pickle pops from an empty stack');
    }
    return stack.pop()!;
  };
  const top = (): PyValue => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) {
      throw new PickleRefusal('the pickle uses the top of an empty stack');
    }
    return stack[stack.length - 1];
  };
  const popMark = (): PyValue[] => {
    const m = marks.pop();
    if (m === undefined) throw new PickleRefusal('the pickle closes a MARK it never opened');
    return stack.splice(m);
  };
  const put = (i: number) => {
    if (!memo.has(i) && memo.size >= LIMITS.memo) throw new PickleRefusal(`more than ${LIMITS.memo} memo entries`);
    memo.set(i, top());
  };
  const get = (i: number) => {
    if (!memo.has(i)) throw new PickleRefusal(`memo entry ${i} is used before it is set`);
    push(memo.get(i)!);
  };
  const str = (n: number) => {
    need(n, 'a string');
    try {
      const s = utf8.decode(bytes.subarray(pos, pos + n));
      pos += n;
      return s;
    } catch {
      throw new PickleRefusal('a string is not valid UTF-8');
    }
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0 || end - pos > LIMITS.globalLine) throw new PickleRefusal(`a GLOBAL name is unterminated or longer than ${LIMITS.globalLine} bytes`);
    const s = str(end - pos);
    pos++;
    return s;
  };
  const integer = (n: number): number | bigint => {
    if (n > LIMITS.intBytes) throw new PickleRefusal(`an integer of ${n} bytes exceeds the ${LIMITS.intBytes}-byte limit`);
    need(n, 'an integer');
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[pos + i]);
    if (n > 0 && bytes[pos + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    pos += n;
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const u32 = () => { need(4, 'a length'); const v = dv.getUint32(pos, true); pos += 4; return v; };
  const u64 = () => {
    need(8, 'a length');
    const v = dv.getUint32(pos + 4, true) * 2 ** 32 + dv.getUint32(pos, true);
    pos += 8;
    return v; // inexact above 2^53, but then far beyond the bytes left: need() refuses it
  };
  const tuple = (items: PyValue[]) => push(new PyTuple(items));

  try {
    for (;;) {
      opAt = pos;
      need(1, 'STOP');
      op = bytes[pos++];
      switch (op) {
        case 0x80: { need(1, 'PROTO'); const v = bytes[pos++]; if (v < 2 || v > 5) throw new PickleRefusal(`pickle protocol ${v} is not supported (2 to 5 are)`); break; }
        case 0x95: { const n = u64(); need(n, 'a FRAME'); break; } // FRAME: framing only
        case 0x2e: { // STOP
          const value = pop();
          if (stack.length || marks.length) throw new PickleRefusal(`STOP leaves ${stack.length} values and ${marks.length} MARKs behind`);
          return { value, end: pos };
        }
        case 0x28: // MARK
          if (marks.length >= LIMITS.marks) throw new PickleRefusal(`MARKs nest deeper than ${LIMITS.marks}`);
          marks.push(stack.length);
          break;
        case 0x30: pop(); break; // POP
        case 0x31: popMark(); break; // POP_MARK
        case 0x4e: push(null); break;
        case 0x88: push(true); break;
        case 0x89: push(false); break;
        case 0x4a: need(4, 'BININT'); push(dv.getInt32(pos, true)); pos += 4; break;
        case 0x4b: need(1, 'BININT1'); push(bytes[pos++]); break;
        case 0x4d: need(2, 'BININT2'); push(dv.getUint16(pos, true)); pos += 2; break;
        case 0x8a: { need(1, 'LONG1'); const n = bytes[pos++]; push(integer(n)); break; }
        case 0x8b: { need(4, 'LONG4'); const n = dv.getInt32(pos, true); pos += 4; if (n < 0) throw new PickleRefusal('LONG4 with a negative length'); push(integer(n)); break; }
        case 0x47: need(8, 'BINFLOAT'); push(new PyFloat(dv.getFloat64(pos, false))); pos += 8; break;
        case 0x58: push(str(u32())); break; // BINUNICODE
        case 0x8c: need(1, 'SHORT_BINUNICODE'); push(str(bytes[pos++])); break;
        case 0x8d: push(str(u64())); break; // BINUNICODE8
        case 0x29: tuple([]); break;
        case 0x74: tuple(popMark()); break;
        case 0x85: { const a = pop(); tuple([a]); break; }
        case 0x86: { const b = pop(), a = pop(); tuple([a, b]); break; }
        case 0x87: { const c = pop(), b = pop(), a = pop(); tuple([a, b, c]); break; }
        case 0x5d: push(new PyList()); break;
        case 0x6c: { const l = new PyList(); for (const v of popMark()) l.items.push(v); push(l); break; } // LIST
        case 0x61: case 0x65: { // APPEND, APPENDS
          const items = op === 0x61 ? [pop()] : popMark();
          const l = top();
          if (!(l instanceof PyList)) throw new PickleRefusal(`APPEND(S) on ${describe(l)}, not a list`);
          for (const v of items) l.items.push(v);
          break;
        }
        case 0x7d: push(new PyDict()); break;
        case 0x64: { // DICT
          const items = popMark();
          if (items.length % 2) throw new PickleRefusal('DICT with an odd number of items');
          const d = new PyDict();
          for (let i = 0; i < items.length; i += 2) setItem(d, items[i], items[i + 1]);
          push(d);
          break;
        }
        case 0x73: { const v = pop(), k = pop(); setItem(top(), k, v); break; }
        case 0x75: { // SETITEMS
          const items = popMark();
          if (items.length % 2) throw new PickleRefusal('SETITEMS with an odd number of items');
          const d = top();
          for (let i = 0; i < items.length; i += 2) setItem(d, items[i], items[i + 1]);
          break;
        }
        case 0x71: need(1, 'BINPUT'); put(bytes[pos++]); break;
        case 0x72: put(u32()); break; // LONG_BINPUT
        case 0x94: put(memo.size); break; // MEMOIZE
        case 0x68: need(1, 'BINGET'); get(bytes[pos++]); break;
        case 0x6a: get(u32()); break; // LONG_BINGET
        case 0x63: { const module = line(); const name = line(); push(hooks.global(module, name)); break; } // GLOBAL
        case 0x93: { // STACK_GLOBAL
          const name = pop(), module = pop();
          if (typeof module !== 'string' || typeof name !== 'string') throw new PickleRefusal('STACK_GLOBAL needs two strings');
          push(hooks.global(module, name));
          break;
        }
        case 0x52: { // REDUCE
          const args = pop(), fn = pop();
          if (!(args instanceof PyTuple)) throw new PickleRefusal(`REDUCE with arguments that are ${describe(args)}, not a tuple`);
          push(hooks.reduce(fn, args));
          break;
        }
        case 0x62: { const state = pop(); hooks.build(top(), state); break; } // BUILD
        case 0x51: push(hooks.persistentLoad(pop())); break; // BINPERSID
        default: {
          const name = REFUSED[op];
          throw new PickleRefusal(name ? `opcode ${name} is not allowed in a checkpoint` : `unknown opcode 0x${op.toString(16).padStart(2, '0')}`);
        }
      }
    }
  } catch (e) {
    if (!(e instanceof PickleRefusal)) throw e;
    const Err = e.unsupported ? UnsupportedError : WeightsError;
    throw new Err(`${where}, byte ${opAt - origin} (opcode 0x${op.toString(16).padStart(2, '0')}): ${e.message}`);
  }
}
