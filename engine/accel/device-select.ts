// Which device each model runs on, decided once from the capabilities the workers reported: the
// device the config asks for when the backend has it here, else the backend's best one.
import type { Capabilities, Device, ModelPlan } from './backend.ts';
import type { ResolvedModelConfig } from './model-config.ts';

export interface DevicePlan {
  plan?: ModelPlan;
  /** Why the model cannot run at all (its backend is missing or unavailable). */
  error?: string;
  /** Why it runs on another device than the config asked for. */
  fallback?: string;
}

export function selectDevice(name: string, config: ResolvedModelConfig, caps: Capabilities): DevicePlan {
  const backend = caps[config.backend];
  if (!backend) return { error: `no backend named "${config.backend}" (known: ${Object.keys(caps).join(', ')})` };
  if (!backend.available || backend.devices.length === 0) {
    return { error: `backend "${config.backend}" is not available here: ${backend.detail ?? 'no device'}` };
  }
  const best = backend.devices[0]!;
  let device: Device = best;
  let fallback: string | undefined;
  if (config.device !== 'auto') {
    if (backend.devices.includes(config.device)) device = config.device;
    else fallback = `${config.device} is not available to backend "${config.backend}" here (${backend.detail ?? 'no detail'}); using ${best}`;
  }
  // "auto" with an accelerator at hand: the backend times it against the CPU at the batch size
  // the model will see, since a GPU's fixed cost per run can make it the slower one.
  const compare = config.device === 'auto' && device !== 'cpu' && backend.devices.includes('cpu') ? { rows: config.maxBatch } : undefined;
  return {
    plan: { name, backend: config.backend, device, ...(config.path !== undefined && { path: config.path }), ...(config.options && { options: config.options }), ...(compare && { compare }) },
    fallback,
  };
}
