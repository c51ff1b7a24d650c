export { CronTriggers, checkCrons } from './cron-triggers.ts';
