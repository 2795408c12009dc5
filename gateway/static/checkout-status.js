// Poll our own server (never trust the return URL) until the verified IPN opened access.
(function () {
  var box = document.getElementById("waiting");
  var url = box && box.dataset.statusUrl;
  if (!url) return;
  var tries = 0;
  function check() {
    fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (s) {
      if (s.access) {
        document.getElementById("message").textContent = s.free_trial
          ? "Your free trial has started: your access is open until " + s.access_until_text +
            ". PayPal takes the first payment then, unless you cancel before."
          : "PayPal confirmed your payment. Your access is open until " + s.access_until_text + ".";
        var back = box.dataset.returnTo;
        if (back) {  // the page the member came from (checked by the server): go on there
          window.location.assign(back);
          return;
        }
        var go = document.createElement("a");
        go.href = "/";
        go.textContent = "Go to your member areas";
        document.getElementById("message").after(go);
        return;
      }
      if (++tries < 60) setTimeout(check, 2000);
      else document.getElementById("message").textContent =
        "PayPal has not confirmed yet. Your access opens as soon as it does; you can leave this page.";
    });
  }
  check();
})();
