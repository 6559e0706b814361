const { Queue, Job } = require(require('path').join(__dirname, '../../../../node_modules/bullmq'));
const connection = { host: '127.0.0.1', port: 36379 };
(async () => {
  const q = new Queue('digest', { connection });
  const j = await Job.fromId(q, 'held-2'); await j.moveToCompleted('ok', 'tok', false);
  await q.close(); process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
