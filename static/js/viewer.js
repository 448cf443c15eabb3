// The open page's PDF viewer (templates/documents/open.html): PDF.js, vendored under
// static/vendor/pdfjs/ (see its README), draws each page on a canvas with a text layer
// over it, so the words can be selected, found and read by a screen reader.
//
// Why PDF.js rather than the browser's own viewer in an <iframe>: phones (Chrome on
// Android, Safari on iOS) do not show a PDF inside a page; a canvas works everywhere,
// within our CSP ('self' scripts and worker, no eval: isEvalSupported is off).
//
// The PDF is fetched once, whole (no Range requests): every request for the file is an
// audited open, and a stamped (watermarked) PDF is answered whole anyway. Pages are
// drawn when they come near the screen, released when far from it, and redrawn when the
// width changes.
(() => {
  "use strict";

  const root = document.querySelector("[data-pdf-viewer]");
  if (!root) return;
  const status = root.querySelector("[data-viewer-status]");
  const pages = root.querySelector("[data-viewer-pages]");

  function say(text) {
    if (status) status.textContent = text;
  }

  function failed() {
    root.dataset.state = "failed";
    say("This document could not be shown here.");
    const fallback = root.querySelector("[data-viewer-fallback]");
    if (fallback) fallback.hidden = false;
  }

  async function drawPage(pdfjs, slot, page) {
    const width = slot.clientWidth;
    if (!width) return;
    const base = page.getViewport({ scale: 1 });
    const scale = width / base.width;
    const viewport = page.getViewport({ scale });
    const ratio = window.devicePixelRatio || 1;
    const canvas = document.createElement("canvas");
    canvas.width = Math.floor(viewport.width * ratio);
    canvas.height = Math.floor(viewport.height * ratio);
    canvas.style.width = `${viewport.width}px`;
    canvas.style.height = `${viewport.height}px`;
    canvas.setAttribute("aria-hidden", "true");
    const text = document.createElement("div");
    text.className = "textLayer";
    text.style.setProperty("--scale-factor", String(scale));
    text.style.setProperty("--total-scale-factor", String(scale));
    text.style.setProperty("--user-unit", "1");
    await page.render({
      canvas,
      canvasContext: canvas.getContext("2d"),
      viewport,
      transform: ratio === 1 ? null : [ratio, 0, 0, ratio, 0, 0],
    }).promise;
    const layer = new pdfjs.TextLayer({ textContentSource: page.streamTextContent(), container: text, viewport });
    await layer.render();
    slot.replaceChildren(canvas, text);
    // Its own shape from now on, so that it keeps its place when released (below).
    slot.style.aspectRatio = `${viewport.width} / ${viewport.height}`;
    slot.dataset.drawnWidth = String(width);
    slot.dataset.rendered = "true";
  }

  async function start() {
    root.dataset.state = "loading";
    const pdfjs = await import(root.dataset.pdfjs);
    pdfjs.GlobalWorkerOptions.workerSrc = root.dataset.worker;
    const pdf = await pdfjs.getDocument({
      url: root.dataset.src,
      disableRange: true,
      disableStream: true,
      isEvalSupported: false,
      enableXfa: false,
      useWasm: false,
      standardFontDataUrl: root.dataset.fonts,
    }).promise;
    const count = pdf.numPages;
    const first = await pdf.getPage(1);
    const shape = first.getViewport({ scale: 1 });
    const slots = [];
    for (let number = 1; number <= count; number += 1) {
      const slot = document.createElement("div");
      slot.className = "pdf-page";
      slot.dataset.page = String(number);
      slot.setAttribute("role", "group");
      slot.setAttribute("aria-label", `Page ${number} of ${count}`);
      // Reserve the page's height before it is drawn: no layout shift while scrolling.
      slot.style.aspectRatio = `${shape.width} / ${shape.height}`;
      slots.push(slot);
    }
    pages.replaceChildren(...slots);

    const drawing = new Map();
    const draw = (slot) => {
      if (drawing.has(slot)) return drawing.get(slot);
      const job = pdf
        .getPage(Number(slot.dataset.page))
        .then((page) => drawPage(pdfjs, slot, page))
        .finally(() => drawing.delete(slot));
      drawing.set(slot, job);
      return job;
    };
    const observer = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) {
          const slot = entry.target;
          if (entry.isIntersecting && slot.dataset.rendered !== "true") draw(slot);
          // A page far from the view gives its canvas back (a long document would otherwise
          // hold hundreds of them); it is drawn again when it comes near.
          if (!entry.isIntersecting && slot.dataset.rendered === "true" && !drawing.has(slot)) {
            slot.replaceChildren();
            slot.dataset.rendered = "false";
          }
        }
      },
      { rootMargin: "100% 0px" },
    );
    slots.forEach((slot) => observer.observe(slot));
    await draw(slots[0]);
    root.dataset.state = "ready";
    root.dataset.pages = String(count);
    say(count === 1 ? "1 page" : `${count} pages`);

    let timer = null;
    window.addEventListener("resize", () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        for (const slot of slots) {
          const drawn = Number(slot.dataset.drawnWidth || 0);
          if (slot.dataset.rendered === "true" && Math.abs(slot.clientWidth - drawn) > 1) {
            slot.dataset.rendered = "false";
            observer.unobserve(slot);
            observer.observe(slot);
          }
        }
      }, 200);
    });
  }

  start().catch(() => failed());
})();
