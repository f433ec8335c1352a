// The H.264 MP4s our video-thumbnail tests use (tests/tools/mkvideo.h:
// openh264's encoder, our own muxer) judged by someone else, and our
// thumbnail held to the same verdict (docs/media.md "Video thumbnails").
// Headless Chromium (Debian's, through playwright-core as the dashboard test)
// plays each file with its own demuxer and decoder: it must load it, report
// the size as shown (the tkhd matrix applied), and show at the keyframe's time
// (sample 2, after a junk sample, unless the layout has none) red where the
// frame was red and blue where it was blue, turned as the matrix says. Our
// thumbnail of the same file (tests/tools/wa-mkmedia vthumb:
// media_meta_probe), decoded by libjpeg (wa-mkmedia jpegpx), must have the
// same shape and the same colours in the same places. A muxer that put the
// sample where its tables do not say, or a turn the other way round, fails
// one side or the other.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { BUILD, tempDir, removeDir } from './lib.mjs';
import { mkmedia, jpegPixels } from './msg-lib.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
let browser, page, dir;

before(async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/deps.sh test installs Debian's chromium`);
  const { chromium } = createRequire(resolve('web/package.json'))('playwright-core');
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  page = await browser.newPage();
  dir = tempDir();
});
after(async () => { await browser?.close(); removeDir(dir); });

// Chromium's frame at time t: { w, h, px(fx, fy) } with fx, fy fractions of the size
async function chromiumFrame(bytes, t) {
  const r = await page.evaluate(async ({ b64, t }) => {
    const v = document.createElement('video');
    v.muted = true;
    v.src = `data:video/mp4;base64,${b64}`;
    document.body.appendChild(v);
    await new Promise((ok, no) => {
      v.onloadeddata = ok;
      v.onerror = () => no(new Error(`video error ${v.error?.code} ${v.error?.message}`));
      setTimeout(() => no(new Error('no frame in 10 s')), 10000);
    });
    v.currentTime = t;
    await new Promise((ok) => { v.onseeked = ok; setTimeout(ok, 3000); });
    await new Promise((ok) => { v.requestVideoFrameCallback?.(ok); setTimeout(ok, 1000); });
    const c = document.createElement('canvas');
    c.width = v.videoWidth; c.height = v.videoHeight;
    const g = c.getContext('2d');
    g.drawImage(v, 0, 0);
    const px = [];
    for (const [fx, fy] of [[0.05, 0.5], [0.95, 0.5], [0.5, 0.05], [0.5, 0.95]]) px.push([...g.getImageData(Math.floor(fx * c.width), Math.floor(fy * c.height), 1, 1).data].slice(0, 3));
    v.remove();
    return { w: v.videoWidth, h: v.videoHeight, px };
  }, { b64: bytes.toString('base64'), t });
  return r;
}

const red = (c) => c[0] > 150 && c[2] < 110;
const blue = (c) => c[2] > 150 && c[0] < 110;
// [first, second]: left and right (across), or top and bottom (down)
const pair = (px, across) => (across ? [px[0], px[1]] : [px[2], px[3]]);

// rot, layout (wa-mkmedia h264 letters), shown size, where red then blue lie
const cases = [
  { rot: 0, layout: '-', w: 320, h: 240, across: true, redFirst: true },
  { rot: 0, layout: 'ocm2', w: 352, h: 200, across: true, redFirst: true, size: [352, 200] },
  { rot: 0, layout: 'b', w: 640, h: 360, across: true, redFirst: true, size: [640, 360] },
  { rot: 0, layout: 'n', w: 320, h: 240, across: true, redFirst: true },
  { rot: 90, layout: '-', w: 240, h: 320, across: false, redFirst: true },
  { rot: 270, layout: 'c', w: 240, h: 320, across: false, redFirst: false },
  { rot: 180, layout: 'm', w: 320, h: 240, across: true, redFirst: false },
];

for (const c of cases) test(`H.264 MP4 turned ${c.rot}, layout ${c.layout}: Chromium plays it as ${c.w}x${c.h} with the frame's colours, and our thumbnail agrees`, async () => {
  const [ew, eh] = c.size || (c.rot % 180 ? [c.h, c.w] : [c.w, c.h]);
  const bytes = mkmedia('h264', ew, eh, c.rot, c.layout);
  // the keyframe is sample 2 (at 3000/90000 s) after a junk one, else sample 1
  const f = await chromiumFrame(bytes, c.layout.includes('n') ? 0 : 0.04);
  assert.equal(f.w, c.w, 'Chromium: width as shown');
  assert.equal(f.h, c.h, 'Chromium: height as shown');
  const [a, b] = pair(f.px, c.across);
  assert.ok(c.redFirst ? red(a) && blue(b) : blue(a) && red(b), `Chromium's frame: ${a} then ${b}`);

  const src = join(dir, 'v.mp4'), out = join(dir, 'v.jpg');
  fs.writeFileSync(src, bytes);
  execFileSync(join(BUILD, 'tools/wa-mkmedia'), ['vthumb', src, out]);
  const j = jpegPixels(fs.readFileSync(out));
  assert.equal(Math.max(j.width, j.height), 64, 'our thumbnail: 64 px on its long side');
  assert.ok(Math.abs(j.width / j.height - c.w / c.h) < 0.05, `our thumbnail's shape ${j.width}x${j.height} is the video's`);
  const at = (fx, fy) => j.px(Math.floor(fx * j.width), Math.floor(fy * j.height));
  const [oa, ob] = c.across ? [at(0.05, 0.5), at(0.95, 0.5)] : [at(0.5, 0.05), at(0.5, 0.95)];
  assert.ok(c.redFirst ? red(oa) && blue(ob) : blue(oa) && red(ob), `our thumbnail: ${oa} then ${ob}`);
});

test('an HEVC sample entry (avc1 renamed hvc1) gets no thumbnail', () => {
  const bytes = mkmedia('h264', 320, 240, 0, '-');
  const i = bytes.indexOf('avc1', bytes.indexOf('stsd'));
  assert.ok(i > 0);
  bytes.write('hvc1', i, 'latin1');
  const src = join(dir, 'h.mp4');
  fs.writeFileSync(src, bytes);
  assert.throws(() => execFileSync(join(BUILD, 'tools/wa-mkmedia'), ['vthumb', src, join(dir, 'h.jpg')], { stdio: 'ignore' }), 'no thumbnail: exit 1');
});
