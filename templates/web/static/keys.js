// The API keys page, with JavaScript on: a pending key's row is fetched again every second
// until the key job has made it, then replaced; "Copy" buttons copy a revealed secret.
// Everything also works without this script (refresh the page; copy from the field by hand).
(function () {
  "use strict";
  var live = document.getElementById("keys-live");

  function poll() {
    var pending = document.querySelectorAll("tr[data-pending][data-row]");
    if (!pending.length) { return; }
    var left = pending.length;
    pending.forEach(function (row) {
      fetch(row.getAttribute("data-row"), { credentials: "same-origin", cache: "no-store" })
        .then(function (answer) {
          if (answer.status === 404 || answer.status === 410) {
            row.removeAttribute("data-pending");  // gone meanwhile: stop asking for it
          }
          return answer.ok ? answer.text() : null;
        })
        .then(function (html) {
          if (!html) { return; }
          var holder = document.createElement("template");
          holder.innerHTML = html.trim();
          var fresh = holder.content.querySelector("tr");
          if (fresh && !fresh.hasAttribute("data-pending")) {
            row.replaceWith(fresh);
            if (live) {
              var name = fresh.querySelector("th");
              var status = fresh.querySelector(".badge");
              live.textContent = "Key " + (name ? name.textContent : "") + " is " +
                (status ? status.textContent : "ready") + ".";
            }
          }
        })
        .catch(function () { /* try again on the next tick */ })
        .finally(function () {
          left -= 1;
          if (left === 0) { window.setTimeout(poll, 1000); }
        });
    });
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    if (!navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var id = button.getAttribute("data-copy");
      var field = document.getElementById(id);
      var said = document.querySelector('[data-copied="' + id + '"]');
      navigator.clipboard.writeText(field.value).then(function () {
        if (said) { said.textContent = "Copied to the clipboard."; }
      }, function () {
        field.select();
        if (said) { said.textContent = "Could not copy: select the field and copy it by hand."; }
      });
    });
  });

  window.setTimeout(poll, 1000);
}());
