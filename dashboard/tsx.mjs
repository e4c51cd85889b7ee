import { chromium } from '@playwright/test';
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox','--autoplay-policy=no-user-gesture-required'] });
const res = { ts: [], mp4: [] };
for (let i = 0; i < 8; i++) for (const kind of (i % 2 ? ['ts','mp4'] : ['mp4','ts'])) {
  const ctx = await b.newContext(); const p = await ctx.newPage();
  await p.goto('http://127.0.0.1:18900/page.html');
  const r = await p.evaluate(async (kind) => new Promise((resolve) => {
    const v = document.getElementById('v'); const t0 = performance.now(); const marks = {};
    const hls = new Hls({ enableWorker: true });
    hls.on(Hls.Events.FRAG_LOADED, (e, d) => { if (!marks.frag) marks.frag = performance.now() - t0; });
    hls.on(Hls.Events.FRAG_BUFFERED, (e, d) => { if (!marks.buffered) marks.buffered = performance.now() - t0; });
    hls.attachMedia(v); hls.loadSource(`/${kind}/index.m3u8`);
    v.play().catch(() => {});
    const cb = (now, meta) => { if (meta.mediaTime > 0) { marks.frame = performance.now() - t0; resolve(marks); } else v.requestVideoFrameCallback(cb); };
    v.requestVideoFrameCallback(cb);
  }), kind);
  res[kind].push(r); await ctx.close();
}
for (const k of ['ts','mp4']) {
  const med = (f) => { const a = res[k].map(x => x[f]).sort((a,b)=>a-b); return Math.round(a[a.length>>1]); };
  console.log(k, 'frag', med('frag'), 'buffered', med('buffered'), 'frame', med('frame'), res[k].map(x=>Math.round(x.frame)).join(' '));
}
await b.close();
