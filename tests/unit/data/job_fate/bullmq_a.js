const { Queue, Worker } = require(require('path').join(__dirname, '../../../../node_modules/bullmq'));
const connection = { host: '127.0.0.1', port: 36379 };
(async () => {
  const q = new Queue('digest', { connection });
  for (const id of ['done-1', 'held-2', 'cut-3', 'fail-4', 'lock-5', 'wait-6']) await q.add('j', {}, { jobId: id });
  await q.add('j', {}, { jobId: 'later-7', delay: 600000 });
  const w = new Worker('digest', null, { connection, name: 'rec', autorun: false });
  await w.waitUntilReady();
  const t = 'tok';
  const j1 = await w.getNextJob(t); await j1.moveToCompleted('ok', t, false);
  await w.getNextJob(t); await w.getNextJob(t);
  const j4 = await w.getNextJob(t); await j4.moveToFailed(new Error('boom'), t, false);
  await w.getNextJob(t);
  console.log('ready');
  process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
})().catch((e) => { console.error(e); process.exit(1); });
