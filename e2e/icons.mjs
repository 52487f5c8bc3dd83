// Icons that render on a stock machine. An emoji in text needs an emoji font (a stock Debian with
// Chromium has none, and 👍 becomes an empty box); an inline SVG needs nothing. Shared by the
// console and widget browser tests:
//   assertNoEmojiText(text)            no emoji anywhere in the visible text;
//   assertIconsPainted(locator, file)  every icon is an <svg> with a size, and its screenshot,
//                                      as Chromium painted it, has pixels that differ from the
//                                      background (the shape is drawn); the first icon's
//                                      screenshot is kept as `file`.

import assert from "node:assert/strict";
import fs from "node:fs";
import zlib from "node:zlib";

const EMOJI = /\p{Extended_Pictographic}/u;

export function assertNoEmojiText(text, where) {
  const found = [...text].filter((ch) => EMOJI.test(ch));
  assert.deepEqual(found, [], `${where}: emoji in text show as empty boxes without an emoji font`);
}

/** Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium's screenshots are). */
export function decodePng(buffer) {
  assert.equal(buffer.toString("latin1", 1, 4), "PNG", "a PNG");
  let pos = 8;
  let header;
  const data = [];
  while (pos < buffer.length) {
    const length = buffer.readUInt32BE(pos);
    const type = buffer.toString("latin1", pos + 4, pos + 8);
    const chunk = buffer.subarray(pos + 8, pos + 8 + length);
    if (type === "IHDR") {
      header = { width: chunk.readUInt32BE(0), height: chunk.readUInt32BE(4), depth: chunk[8], color: chunk[9], interlace: chunk[12] };
    } else if (type === "IDAT") {
      data.push(chunk);
    } else if (type === "IEND") {
      break;
    }
    pos += 12 + length;
  }
  const { width, height, depth, color, interlace } = header;
  assert.ok(depth === 8 && interlace === 0 && (color === 2 || color === 6), `PNG kind: ${JSON.stringify(header)}`);
  const channels = color === 6 ? 4 : 3;
  const raw = zlib.inflateSync(Buffer.concat(data));
  const stride = width * channels;
  const pixels = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = pixels.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? pixels.subarray((y - 1) * stride, y * stride) : null;
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? out[x - channels] : 0;
      const b = up ? up[x] : 0;
      const c = up && x >= channels ? up[x - channels] : 0;
      let predictor = 0;
      if (filter === 1) predictor = a;
      else if (filter === 2) predictor = b;
      else if (filter === 3) predictor = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
        predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      out[x] = (line[x] + predictor) & 255;
    }
  }
  return { width, height, channels, pixels };
}

/** The share of pixels that differ clearly from the background (the commonest corner colour). */
export function paintedShare(png) {
  const { width, height, channels, pixels } = decodePng(png);
  const at = (x, y) => [...pixels.subarray((y * width + x) * channels, (y * width + x) * channels + 3)];
  const corners = [at(0, 0), at(width - 1, 0), at(0, height - 1), at(width - 1, height - 1)].map(String);
  const background = corners
    .sort((p, q) => corners.filter((c) => c === q).length - corners.filter((c) => c === p).length)[0]
    .split(",")
    .map(Number);
  let painted = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const pixel = at(x, y);
      if (Math.max(...pixel.map((v, i) => Math.abs(v - background[i]))) > 48) painted += 1;
    }
  }
  return painted / (width * height);
}

/** Every icon `locator` matches is a painted SVG; the first one's screenshot goes to `file`. */
export async function assertIconsPainted(locator, file, { atLeast = 1 } = {}) {
  const count = await locator.count();
  assert.ok(count >= atLeast, `expected at least ${atLeast} icons, found ${count}`);
  for (let i = 0; i < count; i++) {
    const icon = locator.nth(i);
    const name = await icon.evaluate((node) => `${node.localName}[data-icon=${node.getAttribute("data-icon")}] in ${node.parentElement?.className || node.parentElement?.localName}`);
    assert.equal(await icon.evaluate((node) => node instanceof SVGSVGElement), true, `${name} is inline SVG`);
    await icon.scrollIntoViewIfNeeded();
    const box = await icon.boundingBox();
    assert.ok(box && box.width >= 10 && box.height >= 10, `${name} has a size: ${JSON.stringify(box)}`);
    const png = await icon.screenshot();
    if (i === 0 && file) fs.writeFileSync(file, png);
    const share = paintedShare(png);
    assert.ok(share >= 0.15, `${name} is drawn: ${(share * 100).toFixed(1)}% of its pixels differ from the background`);
  }
}
