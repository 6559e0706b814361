/** Registration of the periodic digest job (BullMQ job schedulers). */
export const SCHEDULER_ID = 'digest-every';
export const SCHEDULED_JOB_NAME = 'scheduled-digest';

/** The part of a BullMQ Queue used here. */
export interface SchedulerQueue {
  upsertJobScheduler(
    jobSchedulerId: string,
    repeatOpts: { every: number },
    jobTemplate: { name: string; data: Record<string, never> },
  ): Promise<unknown>;
}

/**
 * When enabled, creates or updates the `digest-every` scheduler. When
 * disabled it does nothing: another instance may own the scheduler, so it is
 * never removed from here. Returns whether a scheduler was registered.
 */
export async function registerScheduler(
  queue: SchedulerQueue,
  config: { enableScheduler: boolean; digestEveryMs: number },
): Promise<boolean> {
  if (!config.enableScheduler) return false;
  await queue.upsertJobScheduler(
    SCHEDULER_ID,
    { every: config.digestEveryMs },
    { name: SCHEDULED_JOB_NAME, data: {} },
  );
  return true;
}
