const Queue = require(process.env.BULL_DIR || '/tmp/jf-bull/node_modules/bull');
(async () => {
  const q = new Queue('mail', { redis: { host: '127.0.0.1', port: 36379 } });
  for (const id of ['done-1', 'held-2', 'cut-3', 'fail-4', 'lock-5', 'wait-6']) await q.add({}, { jobId: id });
  await q.add({}, { jobId: 'later-7', delay: 600000 });
  const j1 = await q.getNextJob(); await j1.moveToCompleted('ok', true, true);
  await q.getNextJob(); await q.getNextJob();
  const j4 = await q.getNextJob(); await j4.moveToFailed(new Error('boom'), true, true);
  await q.getNextJob();
  await q.setWorkerName();
  console.log('ready token', q.token);
  process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
})().catch((e) => { console.error(e); process.exit(1); });
