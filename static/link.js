// Keeps the "Link a device" page current: a fresh QR frame every two seconds (an old
// screenshot soon stops working), the code's status, and a countdown.
(function () {
  "use strict";
  var root = document.getElementById("link-qr");
  if (!root) { return; }
  var id = root.getAttribute("data-link-id");
  var code = root.getAttribute("data-code");
  var csrf = root.getAttribute("data-csrf");
  var isStatic = root.getAttribute("data-static") === "true";
  var img = document.getElementById("qr-image");
  var statusEl = document.getElementById("link-status");
  var countdown = document.getElementById("countdown");
  var cancelForm = document.getElementById("cancel-form");
  var hint = document.getElementById("code-hint");
  var expiresAt = null;
  var timer = null;
  var clock = null;

  function showCountdown() {
    if (expiresAt === null || !countdown) { return; }
    var left = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
    var m = Math.floor(left / 60), s = left % 60;
    countdown.textContent = m + ":" + (s < 10 ? "0" : "") + s;
  }

  function stop() {
    if (timer !== null) { clearInterval(timer); timer = null; }
    if (clock !== null) { clearInterval(clock); clock = null; }
    if (hint) { hint.hidden = true; }
  }

  function render(state) {
    statusEl.textContent = state.message;
    statusEl.className = "status status-" + state.status;
    root.setAttribute("data-status", state.status);
    if (typeof state.expires_in === "number") {
      expiresAt = Date.now() + state.expires_in * 1000;
      showCountdown();
    }
    if (state.qr && !isStatic) { img.src = state.qr; }
    cancelForm.hidden = state.status !== "scanned";
    if (state.status !== "waiting") { img.classList.add("used"); }
    if (["linked", "expired", "cancelled"].indexOf(state.status) >= 0) { stop(); }
  }

  function tick() {
    fetch("/devices/link/" + encodeURIComponent(id) + "/frame", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ code: code })
    }).then(function (res) {
      if (!res.ok) { throw new Error("status " + res.status); }
      return res.json();
    }).then(render).catch(function () {
      statusEl.textContent = root.getAttribute("data-offline");
    });
  }

  tick();
  timer = setInterval(tick, 2000);
  clock = setInterval(showCountdown, 1000);
})();
