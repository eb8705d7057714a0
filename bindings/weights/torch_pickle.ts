// The allow-list that turns a torch.save'd state_dict pickle into inert descriptions of tensors (pickle.ts runs
// the opcodes, this file decides what GLOBAL, REDUCE, BUILD and persistent ids may mean). Nothing is imported,
// called or allocated from the pickle's say-so: a tensor is a TensorRef (storage key, offset, size, stride) that
// pytorch.ts checks against its storage before it reads a byte.
//
// Allowed globals, and what they stand for:
//   collections.OrderedDict            an empty ordered dict (REDUCE with no arguments); BUILD on it (the
//                                      state_dict's `_metadata` of module versions) is accepted and dropped
//   torch._utils._rebuild_tensor_v2    (storage, storage_offset, size, stride, requires_grad, backward_hooks
//                                      [, metadata]) → a TensorRef; backward_hooks must be empty, metadata
//                                      empty or absent (torch 2.x adds it only for conj/neg-bit tensors)
//   torch._utils._rebuild_parameter    (data, requires_grad, backward_hooks) → data (an nn.Parameter's tensor)
//   torch.{Float,Half,BFloat16,Double,Long,Int,Short,Char,Byte,Bool}Storage
//                                      the storage type inside a persistent id, never called
// Persistent ids: ('storage', <StorageType>, key: str, location: str, numel: int[, view_metadata: None]) — five
// elements in the zip format, six in the legacy one (non-None view metadata, pre-1.0 storage views: refused).

import { describe, PickleRefusal, PyDict, PyOpaque, PyTuple, type PickleHooks, type PyValue } from './pickle.js';
import type { Dtype } from './safetensors.js';

const STORAGES = {
  FloatStorage: ['F32', 4], HalfStorage: ['F16', 2], BFloat16Storage: ['BF16', 2], DoubleStorage: ['F64', 8],
  LongStorage: ['I64', 8], IntStorage: ['I32', 4], ShortStorage: ['I16', 2], CharStorage: ['I8', 1],
  ByteStorage: ['U8', 1], BoolStorage: ['BOOL', 1],
} as const satisfies Record<string, readonly [Dtype, number]>;

export const ALLOWED_GLOBALS: readonly string[] = [
  'collections.OrderedDict', 'torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_parameter',
  ...Object.keys(STORAGES).map((s) => `torch.${s}`),
];

const FUNCTIONS = ['collections.OrderedDict', 'torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_parameter'] as const;
type FunctionName = (typeof FUNCTIONS)[number];

class AllowedFunction extends PyOpaque {
  constructor(readonly name: FunctionName) { super(); }
  get pyType() { return this.name; }
}

export class StorageType extends PyOpaque {
  readonly dtype: Dtype;
  readonly itemSize: number;
  constructor(readonly name: keyof typeof STORAGES) {
    super();
    [this.dtype, this.itemSize] = STORAGES[name];
  }
  get pyType() { return `torch.${this.name}`; }
}

export class StorageRef extends PyOpaque {
  readonly pyType = 'a storage';
  constructor(readonly key: string, readonly type: StorageType, readonly numel: number) { super(); }
}

/** A strided view of a storage, exactly as `_rebuild_tensor_v2` describes it; checked in pytorch.ts. */
export class TensorRef extends PyOpaque {
  readonly pyType = 'a tensor';
  constructor(readonly storage: StorageRef, readonly offset: number, readonly size: readonly number[], readonly stride: readonly number[]) { super(); }
}

const isInt = (v: PyValue): v is number => typeof v === 'number';

function intTuple(v: PyValue, what: string): number[] {
  if (!(v instanceof PyTuple)) throw new PickleRefusal(`_rebuild_tensor_v2: the ${what} is ${describe(v)}, not a tuple of ints`);
  for (const x of v.items) {
    if (!isInt(x)) throw new PickleRefusal(`_rebuild_tensor_v2: the ${what} holds ${describe(x)}, not an int of at most 2^53`);
  }
  return v.items as number[];
}

const emptyOrNone = (v: PyValue) => v === null || (v instanceof PyDict && v.size === 0);

/**
 * The hooks for one state_dict pickle. `declared` collects every storage its persistent ids name (key → ref);
 * `maxBytes` (the file's size) bounds what a storage may declare before any of its data is looked for.
 */
export class TorchHooks implements PickleHooks {
  readonly declared = new Map<string, StorageRef>();
  constructor(private readonly maxBytes: number) {}

  global(module: string, name: string): PyValue {
    const full = `${module}.${name}`;
    if ((FUNCTIONS as readonly string[]).includes(full)) return new AllowedFunction(full as FunctionName);
    if (module === 'torch' && Object.hasOwn(STORAGES, name)) return new StorageType(name as keyof typeof STORAGES);
    if (module === 'torch' && /^\w+Storage$/.test(name)) {
      throw new PickleRefusal(`storage type '${full}' is not supported (complex, quantised and float8 tensors are not read); ` +
        'supported: torch.<Float|Half|BFloat16|Double|Long|Int|Short|Char|Byte|Bool>Storage', true);
    }
    throw new PickleRefusal(`refusing the global '${full}': a checkpoint may only name ${ALLOWED_GLOBALS.slice(0, 3).join(', ')} ` +
      'and the torch.<Float|Half|BFloat16|Double|Long|Int|Short|Char|Byte|Bool>Storage types (nothing in it is imported or run)');
  }

  reduce(fn: PyValue, args: PyTuple): PyValue {
    if (fn instanceof StorageType) throw new PickleRefusal(`REDUCE calls ${fn.pyType}, which may only appear inside a storage reference`);
    if (!(fn instanceof AllowedFunction)) throw new PickleRefusal(`REDUCE calls ${describe(fn)}, not an allowed function`);
    const a = args.items;
    switch (fn.name) {
      case 'collections.OrderedDict':
        if (a.length) throw new PickleRefusal(`OrderedDict is called with ${a.length} arguments (torch.save passes none)`);
        return new PyDict(true);
      case 'torch._utils._rebuild_parameter':
        if (a.length !== 3) throw new PickleRefusal(`_rebuild_parameter takes (data, requires_grad, backward_hooks), got ${a.length} arguments`);
        if (!(a[0] instanceof TensorRef)) throw new PickleRefusal(`_rebuild_parameter: data is ${describe(a[0])}, not a tensor`);
        if (!emptyOrNone(a[2])) throw new PickleRefusal('_rebuild_parameter: backward hooks are not supported', true);
        return a[0];
      case 'torch._utils._rebuild_tensor_v2': {
        if (a.length !== 6 && a.length !== 7) {
          throw new PickleRefusal(`_rebuild_tensor_v2 takes (storage, storage_offset, size, stride, requires_grad, ` +
            `backward_hooks[, metadata]), got ${a.length} arguments`);
        }
        const [storage, offset, size, stride, , hooks, metadata] = a;
        if (!(storage instanceof StorageRef)) throw new PickleRefusal(`_rebuild_tensor_v2: the storage is ${describe(storage)}, not a storage reference`);
        if (!isInt(offset)) throw new PickleRefusal(`_rebuild_tensor_v2: the storage offset is ${describe(offset)}, not an int of at most 2^53`);
        const sz = intTuple(size, 'size'), st = intTuple(stride, 'stride');
        if (sz.length !== st.length) throw new PickleRefusal(`_rebuild_tensor_v2: size has ${sz.length} dimensions, stride ${st.length}`);
        if (typeof a[4] !== 'boolean') throw new PickleRefusal(`_rebuild_tensor_v2: requires_grad is ${describe(a[4])}, not a bool`);
        if (!emptyOrNone(hooks)) throw new PickleRefusal('_rebuild_tensor_v2: backward hooks are not supported', true);
        if (a.length === 7 && !emptyOrNone(metadata)) {
          throw new PickleRefusal(`_rebuild_tensor_v2: tensor metadata (${describe(metadata)}, e.g. conjugate or negative bits) is not supported`, true);
        }
        return new TensorRef(storage, offset, sz, st);
      }
    }
  }

  build(obj: PyValue): void {
    // A state_dict is an OrderedDict whose `_metadata` attribute (module versions) arrives through BUILD.
    if (!(obj instanceof PyDict && obj.ordered)) throw new PickleRefusal(`BUILD on ${describe(obj)} is not supported`);
  }

  persistentLoad(pid: PyValue): PyValue {
    const t = pid instanceof PyTuple ? pid.items : [];
    if (!(pid instanceof PyTuple) || (t.length !== 5 && t.length !== 6) || t[0] !== 'storage') {
      throw new PickleRefusal(`a persistent id is ${describe(pid)}, not ('storage', type, key, location, numel)`);
    }
    const [, type, key, location, numel, view] = t;
    if (!(type instanceof StorageType)) throw new PickleRefusal(`a storage reference's type is ${describe(type)}, not a torch.*Storage`);
    if (typeof key !== 'string' || typeof location !== 'string') throw new PickleRefusal('a storage reference\'s key and location must be strings');
    if (!isInt(numel) || numel < 0) throw new PickleRefusal(`storage "${key.slice(0, 60)}" declares ${describe(numel)} elements`);
    if (view !== undefined && view !== null) throw new PickleRefusal(`storage "${key.slice(0, 60)}" is a view of another storage (pre-1.0 format)`, true);
    if (numel * type.itemSize > this.maxBytes) {
      throw new PickleRefusal(`storage "${key.slice(0, 60)}" declares ${numel} elements of ${type.itemSize} bytes, more than the ` +
        `whole file (${this.maxBytes} bytes)`);
    }
    const seen = this.declared.get(key);
    if (seen) {
      if (seen.type.name !== type.name || seen.numel !== numel) {
        throw new PickleRefusal(`storage "${key.slice(0, 60)}" is declared twice, as ${seen.numel} × ${seen.type.pyType} and ${numel} × ${type.pyType}`);
      }
      return seen;
    }
    const ref = new StorageRef(key, type, numel);
    this.declared.set(key, ref);
    return ref;
  }
}
