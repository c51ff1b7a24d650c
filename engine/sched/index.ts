export { CronTriggers, checkCrons } from './cron-triggers.ts';
export { ReplicaSet, type Replica } from './replica-set.ts';
export { Scheduler, SchedFunction, type LimitKind, type SchedHooks, type Settled } from './scheduler.ts';
export { DEFAULT_QUARANTINE, resolveSchedOptions, type QuarantineOptions, type SchedOptions, type SchedOverrides } from './sched-options.ts';
