// A separate process that scrapes a serveMetrics URL (argv[2]) over and over, reading the
// gauge `serve_block_phase` that the test's thread sets: 0 before it blocks, 1 while it
// is blocked (set right after the block's start time is taken), 2 after. Prints "ready"
// once it has had a scrape, then, when it sees phase 2, one JSON line: the scrapes
// answered in phase 1, the wall-clock time (Date.now()) the first of them arrived, and its
// body. Gives up (printing what it has) after 60 s.
const url = process.argv[2];
const deadline = Date.now() + 60_000;
let ready = false;
let during = 0;
let firstAt;
let firstBody;
while (Date.now() < deadline) {
  let body;
  try {
    body = await (await fetch(url)).text();
  } catch (err) {
    console.log(JSON.stringify({ error: String(err) }));
    process.exit(1);
  }
  const arrived = Date.now();
  const phase = Number(/^serve_block_phase (\S+)$/m.exec(body)?.[1]);
  if (!ready) {
    ready = true;
    console.log('ready');
  }
  if (phase === 1) {
    during++;
    if (firstAt === undefined) {
      firstAt = arrived;
      firstBody = body;
    }
  }
  if (phase === 2) break;
  await new Promise((r) => setTimeout(r, 10));
}
console.log(JSON.stringify({ during, firstAt, firstBody }));
