// A separate process that scrapes a serveMetrics URL (argv[2]) over and over while the
// test's main thread blocks, reading the gauge `serve_block_phase` (0 before the block, 1
// in it, 2 after) and the heartbeat age of the thread label argv[3]. Prints "ready" once
// it has had a scrape, then, when it sees phase 2, one JSON line: the heartbeat ages the
// scrapes of phase 1 showed, in order. The scrapes are one after another, so each but the
// last of them was answered before a later one read phase 1, that is, while the thread
// was still blocked. Gives up (printing what it has) after 60 s.
const [url, thread] = process.argv.slice(2);
const deadline = Date.now() + 60_000;
const ageLine = new RegExp(`^atomic_stats_thread_heartbeat_age_seconds\\{thread="${thread}"\\} (\\S+)$`, 'm');
let ready = false;
const ages = [];
while (Date.now() < deadline) {
  let body;
  try {
    body = await (await fetch(url)).text();
  } catch (err) {
    console.log(JSON.stringify({ error: String(err) }));
    process.exit(1);
  }
  const phase = Number(/^serve_block_phase (\S+)$/m.exec(body)?.[1]);
  if (!ready) {
    ready = true;
    console.log('ready');
  }
  if (phase === 1) ages.push(Number(ageLine.exec(body)?.[1]));
  if (phase === 2) break;
  await new Promise((r) => setTimeout(r, 20));
}
console.log(JSON.stringify({ ages }));
