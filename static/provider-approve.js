// "Sign in with your mobile app": polls the approval and continues once the app
// approved, refused, or the code expired (the server then redirects to the portal).
(function () {
  "use strict";
  var box = document.getElementById("approval");
  if (!box) { return; }
  var request = box.getAttribute("data-request");
  var status = document.getElementById("approval-status");
  // The sentences come translated from the page (data-*), in the page's language.
  var messages = {};
  ["shown", "scanned", "approved", "refused", "expired", "locked"].forEach(function (state) {
    messages[state] = box.getAttribute("data-" + state);
  });
  var done = false;
  // Animated QR frames (anti-relay): the next frame every step while the code is shown.
  var code = box.getAttribute("data-code");
  var stepMs = parseInt(box.getAttribute("data-step-ms"), 10) || 2000;
  var image = document.getElementById("approval-qr");
  function nextFrame() {
    if (done || !code) { return; }
    fetch("/oidc/authorize/app/frame", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify({ request: request, code: code })
    }).then(function (r) { return r.ok ? r.json() : null; }).then(function (body) {
      if (body && body.png) { image.src = "data:image/png;base64," + body.png; }
      if (body) { setTimeout(nextFrame, stepMs); }
    }).catch(function () { setTimeout(nextFrame, stepMs); });
  }
  setTimeout(nextFrame, stepMs);
  function poll() {
    if (done) { return; }
    fetch("/oidc/authorize/app/status?request=" + encodeURIComponent(request), {
      credentials: "same-origin", headers: { "Accept": "application/json" }
    }).then(function (r) { return r.ok ? r.json() : null; }).then(function (body) {
      if (!body) { setTimeout(poll, 2000); return; }
      status.textContent = messages[body.state] || messages.shown;
      if (body.state === "shown" || body.state === "scanned") {
        setTimeout(poll, 1000);
      } else {
        done = true;
        window.location.assign("/oidc/authorize/app/continue?request=" + encodeURIComponent(request));
      }
    }).catch(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 1000);
}());
