const Queue = require(process.env.BULL_DIR || '/tmp/jf-bull/node_modules/bull');
(async () => {
  const q = new Queue('mail', { redis: { host: '127.0.0.1', port: 36379 } });
  const j = await q.getJob('held-2'); await j.moveToCompleted('ok', true, true);
  await q.close(); process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
