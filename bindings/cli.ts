// Command-line entry: `wasm-seq2seq <command> [options]`. Each command is a small function over the library.
import { hasRelaxedSimd, hasWasmSimd, loadKernels } from './backends/wasm/kernels.js';
import { Seq2SeqError } from './errors.js';
import { convertCommand } from './cli/convert.js';
import { generateCommand } from './cli/generate.js';
import { phonemizeCommand } from './cli/phonemize.js';

type Command = (args: string[]) => Promise<number>;

const commands: Record<string, { run: Command; help: string }> = {
  phonemize: {
    help: 'English text → ARPAbet phonemes with the shipped G2P model (the default model in weights/g2p-en)',
    run: phonemizeCommand,
  },
  generate: {
    help: 'run a Hugging Face seq2seq checkpoint on token ids (greedy or beam search, transformers semantics)',
    run: generateCommand,
  },
  convert: {
    help: 'write a model folder (safetensors or pytorch_model.bin weights) as model.safetensors in f32, f16, or int8 linear weights (--to f32|f16|int8 SRC OUT)',
    run: convertCommand,
  },
  info: {
    help: 'show the runtime: WebAssembly SIMD support, kernels loaded, memory',
    run: async () => {
      const k = await loadKernels();
      console.log(JSON.stringify({ simd: hasWasmSimd(), relaxedSimd: hasRelaxedSimd(), node: process.version, heapBase: k.heap_base(), memoryBytes: k.memory.buffer.byteLength }, null, 1));
      return 0;
    },
  },
};

function usage(): string {
  return ['usage: wasm-seq2seq <command> [options]', '', 'commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(12)} ${c.help}`)].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') { console.log(usage()); return 0; }
  const cmd = commands[name];
  if (!cmd) { console.error(`wasm-seq2seq: unknown command '${name}'\n\n${usage()}`); return 2; }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof Seq2SeqError) { console.error(`wasm-seq2seq ${name}: ${e.name}: ${e.message}`); return 1; }
    throw e;
  }
}
