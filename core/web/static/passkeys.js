// Passkeys (WebAuthn): the buttons marked data-passkey run the browser's ceremony with the
// options the server gives (data-begin) and send its answer back (data-finish). A failure
// shows the page's own sentence (data-fail), or the server's, never the browser's.
(function () {
  "use strict";
  function toBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) { s += "="; }
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out.buffer;
  }
  function toB64u(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) { bin += String.fromCharCode(bytes[i]); }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function ServerError(text) { this.text = text; }
  function post(btn, url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": btn.dataset.csrf },
      body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) { throw new ServerError(j.error); }
        return j;
      });
    });
  }
  function create(o) {
    o.challenge = toBuf(o.challenge);
    o.user.id = toBuf(o.user.id);
    (o.excludeCredentials || []).forEach(function (c) { c.id = toBuf(c.id); });
    return navigator.credentials.create({ publicKey: o }).then(function (c) {
      return { id: c.id, rawId: toB64u(c.rawId), type: c.type, response: {
        attestationObject: toB64u(c.response.attestationObject),
        clientDataJSON: toB64u(c.response.clientDataJSON),
        transports: c.response.getTransports ? c.response.getTransports() : [] } };
    });
  }
  function get(o) {
    o.challenge = toBuf(o.challenge);
    (o.allowCredentials || []).forEach(function (c) { c.id = toBuf(c.id); });
    return navigator.credentials.get({ publicKey: o }).then(function (c) {
      return { id: c.id, rawId: toB64u(c.rawId), type: c.type, response: {
        authenticatorData: toB64u(c.response.authenticatorData),
        clientDataJSON: toB64u(c.response.clientDataJSON),
        signature: toB64u(c.response.signature),
        userHandle: c.response.userHandle ? toB64u(c.response.userHandle) : null } };
    });
  }
  document.querySelectorAll("[data-passkey]").forEach(function (btn) {
    if (!window.PublicKeyCredential) { btn.hidden = true; return; }
    btn.addEventListener("click", function () {
      var status = document.getElementById(btn.dataset.status);
      status.textContent = "";
      btn.disabled = true;
      post(btn, btn.dataset.begin).then(function (begin) {
        var run = btn.dataset.passkey === "create" ? create : get;
        return run(begin.options.publicKey).then(function (cred) {
          return post(btn, btn.dataset.finish, { ceremony: begin.ceremony, credential: cred });
        });
      }).then(function (fin) {
        window.location.assign(fin.redirect);
      }).catch(function (e) {
        status.textContent = (e instanceof ServerError && e.text) ? e.text : btn.dataset.fail;
        btn.disabled = false;
      });
    });
  });
})();
