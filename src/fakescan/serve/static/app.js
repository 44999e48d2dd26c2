// fakescan serve: the page. Plain JavaScript, no build step, no external resource.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const state = { job: null, urls: [] };

function headers() {
  const token = sessionStorage.getItem("fakescan-token") || $("token").value;
  return token ? { Authorization: "Bearer " + token } : {};
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...headers(), ...(options.headers || {}) } });
  if (response.status === 401) {
    $("token-box").hidden = false;
    throw new Error("this server needs an access token: enter it above and try again");
  }
  return response;
}

async function detail(response) {
  try {
    const body = await response.json();
    return typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
  } catch (error) {
    return response.status + " " + response.statusText;
  }
}

async function loadModels() {
  try {
    const response = await api("/api/v1/models");
    if (!response.ok) throw new Error(await detail(response));
    const data = await response.json();
    const select = $("model");
    select.replaceChildren();
    for (const m of data.models) {
      const option = document.createElement("option");
      option.value = m.name;
      option.textContent = `${m.name} (${m.model}, threshold ${m.threshold.toFixed(3)})`;
      select.append(option);
    }
    select.value = data.default;
    $("frames").max = data.max_frames;
  } catch (error) {
    setStatus(error.message, true);
  }
}

function setStatus(text, isError = false) {
  $("job").hidden = false;
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

async function upload(file) {
  if (!file) return;
  $("result").hidden = true;
  $("delete").hidden = true;
  $("job-file").textContent = file.name;
  $("progress").value = 0;
  setStatus("uploading …");
  const form = new FormData();
  form.append("file", file, file.name);
  form.append("model", $("model").value);
  form.append("frames", $("frames").value);
  let response;
  try {
    response = await api("/api/v1/jobs", { method: "POST", body: form });
  } catch (error) {
    setStatus(error.message, true);
    return;
  }
  if (response.status === 429) {
    setStatus(`${await detail(response)} (the server is busy)`, true);
    return;
  }
  if (!response.ok) {
    setStatus(await detail(response), true);
    return;
  }
  const { id } = await response.json();
  setStatus("queued");
  poll(id);
}

async function poll(id) {
  for (;;) {
    let job;
    try {
      const response = await api(`/api/v1/jobs/${id}`);
      if (!response.ok) throw new Error(await detail(response));
      job = await response.json();
    } catch (error) {
      setStatus(error.message, true);
      return;
    }
    $("progress").value = Math.round(100 * job.progress);
    if (job.status === "queued" || job.status === "running") {
      setStatus(`${job.status} … ${Math.round(100 * job.progress)} %`);
      await new Promise((resolve) => setTimeout(resolve, 500));
      continue;
    }
    state.job = job;
    $("delete").hidden = false;
    if (job.status === "failed" && !(job.result && job.result.results[0].frames.length)) {
      setStatus(job.error, true);
      return;
    }
    $("progress").value = 100;
    setStatus(job.status === "done" ? "done" : job.error, job.status !== "done");
    show(job);
    return;
  }
}

async function artefact(name) {
  const url = state.job.artifacts[name];
  if (!url) return null;
  const response = await api(url);
  if (!response.ok) return null;
  const blob = URL.createObjectURL(await response.blob());
  state.urls.push(blob);
  return blob;
}

function show(job) {
  for (const url of state.urls) URL.revokeObjectURL(url);
  state.urls = [];
  const report = job.result;
  const r = report.results[0];
  const words = {
    fake: "Likely FAKE",
    real: "Likely REAL",
    no_face: "No face found",
    error: "Could not be read",
  };
  $("verdict").textContent = `${words[r.verdict]} — ${job.filename}`;
  $("verdict").className = r.verdict;
  const threshold = report.threshold;
  const score = r.score;
  $("meter-threshold").style.left = `calc(${100 * threshold}% - 1px)`;
  $("meter-fill").style.width = score === null ? "0" : `${100 * score}%`;
  const scoreText = score === null
    ? `no score (threshold ${threshold.toFixed(3)})`
    : `P(fake) = ${score.toFixed(3)} against the threshold ${threshold.toFixed(3)}: ` +
      (score >= threshold ? "at or above it, so fake" : "below it, so real");
  $("score-text").textContent = scoreText +
    ` · ${r.frames_used} of ${r.frames_read} frames with a face · model ${report.model} (${report.aggregate})`;
  $("meter").setAttribute("aria-label", scoreText);
  $("reason").textContent = r.reason || "";
  drawTimeline(r, threshold);
  $("result").hidden = false;
  const first = r.frames.reduce(
    (best, f) => (f.probability !== null && (best === null || f.probability > best.probability) ? f : best),
    null,
  );
  selectFrame(first || r.frames[0]);
}

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (parent) parent.append(node);
  return node;
}

function drawTimeline(r, threshold) {
  const svg = $("timeline");
  svg.replaceChildren();
  const W = 720, H = 220, left = 46, right = 14, top = 12, bottom = 36;
  const times = r.frames.map((f) => f.timestamp);
  const t0 = Math.min(...times), t1 = Math.max(...times);
  const span = t1 > t0 ? t1 - t0 : 1;
  const x = (t) => (r.frames.length === 1 ? (left + W - right) / 2 : left + ((t - t0) / span) * (W - left - right));
  const y = (p) => top + (1 - p) * (H - top - bottom);
  for (const p of [0, 0.25, 0.5, 0.75, 1]) {
    el("line", { class: "grid", x1: left, x2: W - right, y1: y(p), y2: y(p) }, svg);
    el("text", { x: left - 6, y: y(p) + 4, "text-anchor": "end" }, svg).textContent = p.toFixed(2);
  }
  el("line", { class: "axis", x1: left, x2: left, y1: top, y2: H - bottom }, svg);
  el("line", { class: "axis", x1: left, x2: W - right, y1: H - bottom, y2: H - bottom }, svg);
  el("text", { x: (left + W) / 2, y: H - 4, "text-anchor": "middle" }, svg).textContent = "time (s)";
  el("text", { x: 12, y: (top + H - bottom) / 2, transform: `rotate(-90 12 ${(top + H - bottom) / 2})`,
    "text-anchor": "middle" }, svg).textContent = "P(fake)";
  const ticks = r.frames.length === 1 ? [t0] : [0, 0.25, 0.5, 0.75, 1].map((q) => t0 + q * span);
  for (const t of ticks) {
    el("line", { class: "axis", x1: x(t), x2: x(t), y1: H - bottom, y2: H - bottom + 4 }, svg);
    el("text", { x: x(t), y: H - bottom + 16, "text-anchor": "middle" }, svg).textContent = t.toFixed(2);
  }
  el("line", { class: "threshold", x1: left, x2: W - right, y1: y(threshold), y2: y(threshold) }, svg);
  el("text", { x: left + 4, y: y(threshold) - 5, "text-anchor": "start", class: "threshold-label" }, svg)
    .textContent = `threshold ${threshold.toFixed(2)}`;
  const scored = r.frames.filter((f) => f.probability !== null);
  if (scored.length > 1) {
    el("polyline", { class: "curve", points: scored.map((f) => `${x(f.timestamp)},${y(f.probability)}`).join(" ") }, svg);
  }
  for (const f of r.frames) {
    const face = f.probability !== null;
    const label = face
      ? `frame ${f.index} at ${f.timestamp.toFixed(2)} s: P(fake) ${f.probability.toFixed(3)}`
      : `frame ${f.index} at ${f.timestamp.toFixed(2)} s: no face`;
    const kind = !face ? "no-face" : f.probability >= threshold ? "fake" : "real";
    const point = el("circle", {
      class: `point ${kind}`, cx: x(f.timestamp), cy: face ? y(f.probability) : y(0), r: face ? 6 : 4,
      tabindex: 0, role: "button", "aria-label": label, "data-index": f.index,
    }, svg);
    el("title", {}, point).textContent = label;
    point.addEventListener("click", () => selectFrame(f));
    point.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        selectFrame(f);
      }
    });
  }
}

async function setImage(id, name) {
  const img = $(id);
  const url = name ? await artefact(name) : null;
  if (url) img.src = url;
  else img.removeAttribute("src");
  img.closest("figure").hidden = !url;
}

async function selectFrame(f) {
  if (!f) return;
  for (const p of document.querySelectorAll("#timeline .point")) {
    p.classList.toggle("selected", Number(p.dataset.index) === f.index);
  }
  const probability = f.probability === null ? "no face" : `P(fake) ${f.probability.toFixed(3)}`;
  $("frame-label").textContent = `#${f.index} at ${f.timestamp.toFixed(2)} s · ${probability}`;
  $("frame-missing").hidden = f.probability !== null;
  await Promise.all([
    setImage("frame-image", `frame-${f.index}.jpg`),
    setImage("crop", `frame-${f.index}-crop.png`),
    setImage("heatmap", `frame-${f.index}-heatmap.png`),
    setImage("spectrum", `frame-${f.index}-spectrum.png`),
  ]);
}

function download() {
  if (!state.job) return;
  const blob = new Blob([JSON.stringify(state.job.result, null, 2) + "\n"], { type: "application/json" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `${state.job.filename.replace(/\.[^.]*$/, "")}.fakescan.json`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

async function remove() {
  if (!state.job) return;
  const response = await api(`/api/v1/jobs/${state.job.id}`, { method: "DELETE" });
  if (response.ok) {
    $("result").hidden = true;
    $("delete").hidden = true;
    setStatus("the job and its files were deleted from the server");
    state.job = null;
  }
}

function init() {
  const drop = $("drop");
  $("file").addEventListener("change", (event) => upload(event.target.files[0]));
  drop.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      $("file").click();
    }
  });
  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (event) => {
      event.preventDefault();
      drop.classList.add("over");
    });
  }
  for (const name of ["dragleave", "drop"]) {
    drop.addEventListener(name, () => drop.classList.remove("over"));
  }
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    upload(event.dataTransfer.files[0]);
  });
  $("token").addEventListener("change", () => {
    sessionStorage.setItem("fakescan-token", $("token").value);
    loadModels();
  });
  $("download").addEventListener("click", download);
  $("delete").addEventListener("click", remove);
  loadModels();
}

init();
