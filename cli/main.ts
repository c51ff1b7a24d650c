// The `islet` command: picks a subcommand, and turns usage and config errors into a clear
// message and exit code 2 (runtime failures exit 1).
import { readFileSync } from 'node:fs';
import { BundleError, ConfigError } from '../engine/index.ts';
import { isBuilt } from '../engine/own-file.ts';
import { UsageError } from './args.ts';
import { benchHelp } from './bench/flags.ts';
import { dev, devHelp } from './dev.ts';
import { serve, serveHelp } from './serve.ts';
import { tail, tailHelp } from './tail.ts';

const help = `Usage: islet <command> [options]

Commands:
  dev <entry>    serve one function from a source file, reloading on change
  serve          serve many functions, routed by Host, with an admin API
  tail <name>    follow a function's logs live on a running server
  bench <url>    load-test an HTTP endpoint (or --fixture <name>): latency, errors, compare
  setup tiers    install what the container, gVisor and microVM tiers need from Debian (root, apt-get)
  setup gpu      install what models need to reach this machine's GPU through WebGPU (root, apt-get)

Run "islet <command> --help" for a command's options ("islet --version" for the version):
${[devHelp, serveHelp, benchHelp, tailHelp].map((h) => `  ${h.split('\n')[0]!.replace(/^Usage: /, '')}`).join('\n')}`;

const setupHelp = `Usage: islet setup tiers|gpu

islet setup tiers installs from Debian (apt-get, as root) what the heavier isolation tiers need
on this host: bubblewrap, runc and crun for the container tier, runsc for gVisor, and QEMU, a
kernel, busybox and e2fsprogs for the microVM tier, whose guest image it then builds.

islet setup gpu installs what ONNX models need to run on this machine's GPU through
onnxruntime's WebGPU provider: the Vulkan loader (libvulkan1), and libglvnd0 for NVIDIA's
driver. The GPU's own driver is the machine's business. On a machine without a GPU it does
nothing.

What is already there is left alone; without root or apt-get it installs nothing and says so
(it never fails), and what lacks something stays unavailable, with islet saying why (a tier when a
function asks for it; a GPU in /_islet/status, models then running on the CPU).`;

const commands: Record<string, (args: string[]) => Promise<void>> = {
  dev,
  serve,
  tail,
  setup: async (args) => {
    if (args.length === 1 && (args[0] === '--help' || args[0] === '-h')) {
      console.log(setupHelp);
      return;
    }
    if (args.length !== 1 || (args[0] !== 'tiers' && args[0] !== 'gpu')) throw new UsageError(`${setupHelp.split('\n')[0]}\nRun "islet setup --help" for what it does.`);
    if (args[0] === 'gpu') (await import('../engine/accel/setup-gpu.ts')).setupGpu();
    else await (await import('../engine/tiers/setup.ts')).setupTiers();
  },
  // Loaded on demand: autocannon and undici are not needed to serve.
  bench: async (args) => (await import('./bench/index.ts')).bench(args),
};

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(help);
    return;
  }
  if (command === '--version' || command === '-v') {
    // package.json is one folder up from the sources, two from dist/cli in the package.
    const manifest = new URL(isBuilt(import.meta.url) ? '../../package.json' : '../package.json', import.meta.url);
    console.log((JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version);
    return;
  }
  const run = commands[command];
  if (!run) throw new UsageError(`unknown command "${command}".\nRun "islet --help" for usage.`);
  await run(rest);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof UsageError || err instanceof ConfigError || err instanceof BundleError) {
    console.error(`islet: ${err.message}`);
    process.exit(2);
  }
  console.error(err);
  process.exit(1);
});
