/** Work a server process keeps running beside requests (job runner, reconciler). Filled in by the operations layer. */
export async function startBackgroundWork(): Promise<void> {}
