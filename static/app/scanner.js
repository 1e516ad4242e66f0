// Reading QR codes: the camera, scanned continuously, or a photo. Decoding uses the
// browser's BarcodeDetector where it has one for QR codes, else the vendored jsQR
// (static/app/vendor/jsqr/, see tools/vendor-app/).

let jsqrLoading = null;

function loadJsqr() {
  if (window.jsQR) return Promise.resolve(window.jsQR);
  jsqrLoading ??= new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = 'vendor/jsqr/jsQR.js';
    script.onload = () => resolve(window.jsQR);
    script.onerror = () => reject(new Error('the QR decoder could not be loaded'));
    document.head.append(script);
  });
  return jsqrLoading;
}

async function barcodeDetector() {
  if (!('BarcodeDetector' in window)) return null;
  try {
    const formats = await window.BarcodeDetector.getSupportedFormats();
    return formats.includes('qr_code') ? new window.BarcodeDetector({ formats: ['qr_code'] }) : null;
  } catch {
    return null;
  }
}

/** Finds a QR code in an image source (video, bitmap); its text or null. */
async function decode(source, width, height, canvas) {
  const detector = await barcodeDetector();
  if (detector) {
    const codes = await detector.detect(source).catch(() => []);
    if (codes.length) return codes[0].rawValue;
    return null;
  }
  const jsQR = await loadJsqr();
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(source, 0, 0, width, height);
  const found = jsQR(ctx.getImageData(0, 0, width, height).data, width, height, {
    inversionAttempts: 'dontInvert',
  });
  return found?.data || null;
}

/**
 * Starts the camera in `video` and scans until a code is read; resolves with its text.
 * `stop()` ends it early (the promise then never resolves). Rejects if the camera
 * cannot be opened (refused, absent, insecure context).
 */
export function scanCamera(video) {
  let stream = null;
  let stopped = false;
  const canvas = document.createElement('canvas');
  const stop = () => {
    stopped = true;
    stream?.getTracks().forEach((t) => t.stop());
    video.srcObject = null;
  };
  const result = (async () => {
    if (!navigator.mediaDevices?.getUserMedia) throw new Error('no camera in this browser');
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: 'environment' },
      audio: false,
    });
    if (stopped) {
      stop();
      return new Promise(() => {});
    }
    video.srcObject = stream;
    await video.play().catch(() => {});
    for (;;) {
      if (stopped) return new Promise(() => {});
      if (video.readyState >= 2 && video.videoWidth) {
        // Scale large frames down: a QR code needs a few hundred pixels, not megapixels.
        const scale = Math.min(1, 800 / Math.max(video.videoWidth, video.videoHeight));
        const text = await decode(
          video,
          Math.round(video.videoWidth * scale),
          Math.round(video.videoHeight * scale),
          canvas,
        );
        if (text && !stopped) {
          stop();
          return text;
        }
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return { result, stop };
}

/** Reads a QR code in a photo file; its text or null. */
export async function scanPhoto(file) {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, 1600 / Math.max(bitmap.width, bitmap.height));
  return decode(
    bitmap,
    Math.round(bitmap.width * scale),
    Math.round(bitmap.height * scale),
    document.createElement('canvas'),
  );
}
