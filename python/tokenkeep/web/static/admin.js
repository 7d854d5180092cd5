// tokenkeep admin page: one edit, one revoke and one regenerate dialog filled for the row
// chosen, the show-once secret (kept until the user confirms), the copy button, scope
// pickers, the expiry preview. No dependencies; the page works without it (each row's
// actions are links that open the same dialogs server-side).
(function () {
  "use strict";

  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  function all(selector, root) {
    return Array.prototype.slice.call((root || document).querySelectorAll(selector));
  }

  // A dialog the server rendered open is reopened as a modal. Its close() queues a "close"
  // event that arrives when it is open again, so close handlers ignore an open dialog.
  function showModal(dialog) {
    if (dialog.open) dialog.close();
    dialog.showModal();
  }

  // A picker: a scope on its own grants every action, so its actions show checked and locked.
  function syncPicker(picker) {
    all("[data-scope-main]", picker).forEach(function (main) {
      all('[data-scope-of="' + main.value + '"]', picker).forEach(function (action) {
        if (main.checked) {
          action.checked = true;
          action.disabled = true;
        } else if (action.disabled) {
          action.disabled = false;
          action.checked = false;
        }
      });
    });
  }

  function utcDate(ms) {
    var d = new Date(ms);
    return MONTHS[d.getUTCMonth()] + " " + d.getUTCDate() + ", " + d.getUTCFullYear();
  }

  // The expiry control: the date field for a custom date, and the date the choice means.
  function syncExpiry(select) {
    var form = select.form;
    var date = form && form.querySelector("[data-expiry-date]");
    var preview = form && form.querySelector("[data-expiry-preview]");
    if (date) {
      date.hidden = select.value !== "custom";
      date.required = select.value === "custom";
    }
    if (!preview) return;
    var when = "";
    preview.textContent = "";
    if (select.value === "custom") {
      if (date && /^\d{4}-\d{2}-\d{2}$/.test(date.value)) {
        // A date means its last second, UTC (the server's rule): before today is in the past.
        var today = new Date(Number(select.getAttribute("data-now-ms"))).toISOString().slice(0, 10);
        if (date.value < today) {
          preview.textContent = "That date has passed: choose today or a later date.";
          return;
        }
        when = utcDate(Date.parse(date.value + "T00:00:00Z"));
      }
    } else if (select.value === "never") {
      preview.textContent = "The token will never expire: revoke it when it is no longer needed.";
      return;
    } else if (/^\d+$/.test(select.value)) {
      when = utcDate(Number(select.getAttribute("data-now-ms")) + Number(select.value) * 86400000);
    }
    if (when) {
      var strong = document.createElement("strong");
      strong.textContent = when;
      preview.append("The token will expire on ", strong, ".");
    }
  }

  // Fill the one dialog of `action` for the token of `row`, then open it. `renew`: the
  // lifetime a regenerate proposes (the link next to "Expires soon"), else the same date.
  function openFor(action, row, renew) {
    var dialog = document.getElementById(action + "-dialog");
    var form = dialog && dialog.querySelector("form");
    if (!form) return false;
    form.reset();
    form.action = form.getAttribute("data-action-base") + row.getAttribute("data-token-id") +
      form.getAttribute("data-action-suffix");
    all("[data-fill=name]", dialog).forEach(function (el) { el.textContent = row.getAttribute("data-name"); });
    var keep = form.querySelector("[data-keep-label]");
    if (keep) keep.textContent = "Keep the current date (" + row.getAttribute("data-expires") + ")";
    var lifetime = form.querySelector("[data-rotate-expiry]");
    if (lifetime) lifetime.value = renew || "keep";
    var picker = form.querySelector("[data-scope-picker]");
    if (picker) {
      var scopes = (row.getAttribute("data-scopes") || "").split(" ");
      all('input[name="scopes"]', picker).forEach(function (box) {
        box.disabled = false;
        box.checked = scopes.indexOf(box.value) >= 0;
      });
      syncPicker(picker);
      picker.removeAttribute("aria-invalid");
      all(".field-error", form).forEach(function (p) { p.hidden = true; });
    }
    var networks = form.querySelector("[data-networks-input]");
    if (networks) {
      var bound = row.getAttribute("data-networks") || "";
      networks.value = bound ? bound.split(" ").join("\n") : "";
      networks.removeAttribute("aria-invalid");
    }
    fillUsage(dialog, row);
    fillClients(dialog, row);
    showModal(dialog);
    return true;
  }

  // The edit dialog's "In the last 30 days this token used only ..." and "Narrow to what it
  // used", from the row's data-usage, data-used and data-narrow (view: hygiene_view.py).
  function fillUsage(dialog, row) {
    var note = dialog.querySelector("[data-usage-note]");
    if (!note) return;
    var sentence = row.getAttribute("data-usage") || "";
    var narrow = note.querySelector("[data-narrow]");
    var edit = row.querySelector('[data-action="edit"]');
    note.querySelector("[data-usage-text]").textContent = sentence;
    note.hidden = !sentence;
    narrow.hidden = !row.hasAttribute("data-narrow");
    narrow.setAttribute("data-used", row.getAttribute("data-used") || "");
    if (edit) narrow.href = edit.href + "&narrow=1";
  }

  // The edit dialog's "Lately used from ..." and "Restrict to the networks it used", from the
  // row's data-clients and data-suggested (view: networks_view.py).
  function fillClients(dialog, row) {
    var note = dialog.querySelector("[data-restrict-note]");
    if (!note) return;
    var clients = row.getAttribute("data-clients") || "";
    var restrict = note.querySelector("[data-restrict]");
    var edit = row.querySelector('[data-action="edit"]');
    note.querySelector("[data-clients-text]").textContent = clients ? "Lately used from " + clients + "." : "";
    note.hidden = !clients;
    restrict.setAttribute("data-suggested", row.getAttribute("data-suggested") || "");
    restrict.hidden = !row.getAttribute("data-suggested");
    if (edit) restrict.href = edit.href + "&restrict=1";
  }

  // Put the suggested networks in the field, one per line; the user still presses Save.
  function restrictNetworks(link) {
    var field = link.closest("form").querySelector("[data-networks-input]");
    var suggested = (link.getAttribute("data-suggested") || "").split(/\s+/).filter(Boolean);
    field.value = suggested.join("\n");
    field.focus();
  }

  // Check exactly the scopes the token used; the user still presses Save.
  function narrowScopes(link) {
    var picker = link.closest("form").querySelector("[data-scope-picker]");
    var used = (link.getAttribute("data-used") || "").split(" ");
    all('input[name="scopes"]', picker).forEach(function (box) {
      box.disabled = false;
      box.checked = used.indexOf(box.value) >= 0;
    });
    syncPicker(picker);
  }

  function copySecret(button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    var dialog = button.closest("dialog");
    var label = button.querySelector("[data-copy-label]") || button;
    var status = dialog && dialog.querySelector("[data-copy-status]");
    function done(ok) {
      label.textContent = ok ? "Copied" : "Press Ctrl+C";
      if (status) status.textContent = ok ? "Copied" : "Select the token and press Ctrl+C to copy it";
      if (ok && dialog) dialog.setAttribute("data-copied", "");
      window.setTimeout(function () { label.textContent = "Copy"; }, 2000);
    }
    function fallback() {
      var range = document.createRange();
      range.selectNodeContents(source);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      done(ok);
    }
    if (status) status.textContent = "";
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.textContent).then(function () { done(true); }, fallback);
    } else {
      fallback();
    }
  }

  // The secret stays on screen until the user confirms: the first Close or Esc (unless the
  // Copy button worked) asks "Did you copy it?"; the next one closes and leaves the page.
  function guardSecret(dialog) {
    var asked = false;
    var confirmed = false;
    var keyHandled = false;
    var question = dialog.querySelector("[data-confirm-close]");
    var stay = dialog.querySelector("[data-stay]");
    var leave = dialog.querySelector("[data-leave]");
    function attemptClose() {
      if (asked || dialog.hasAttribute("data-copied")) {
        confirmed = true;
        dialog.close();
        return;
      }
      asked = true;
      question.hidden = false;
      stay.hidden = false;
      leave.textContent = "Yes, close";
      leave.focus();
    }
    dialog.addEventListener("keydown", function (event) {
      if (event.key !== "Escape") return;
      event.preventDefault();
      keyHandled = true;
      window.setTimeout(function () { keyHandled = false; }, 0);
      attemptClose();
    });
    dialog.addEventListener("cancel", function (event) {
      event.preventDefault();
      if (!keyHandled) attemptClose();
    });
    dialog.addEventListener("close", function () {
      if (dialog.open) return;
      if (!confirmed) {  // closed some other way (the browser's own close request): reopen, ask
        dialog.showModal();
        attemptClose();
        return;
      }
      all("[data-secret]", dialog).forEach(function (el) { el.textContent = ""; });
      window.location.replace(dialog.getAttribute("data-leave-to"));
    });
    leave.addEventListener("click", function (event) {
      event.preventDefault();
      attemptClose();
    });
    stay.addEventListener("click", function () {
      var secret = dialog.querySelector("[data-secret]");
      if (secret) secret.focus();
    });
  }

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    var action = target.closest("[data-action]");
    if (action) {
      var row = action.closest("tr[data-token-id]");
      if (row && openFor(action.getAttribute("data-action"), row, action.getAttribute("data-renew"))) {
        event.preventDefault();
      }
      return;
    }
    var opener = target.closest("[data-open]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-open"));
      if (dialog) {
        event.preventDefault();
        showModal(dialog);
      }
      return;
    }
    var closer = target.closest("[data-close]");
    if (closer) {
      event.preventDefault();
      closer.closest("dialog").close();
      return;
    }
    var narrow = target.closest("[data-narrow]");
    if (narrow && narrow.hasAttribute("data-used")) {
      event.preventDefault();
      narrowScopes(narrow);
      return;
    }
    var restrict = target.closest("[data-restrict]");
    if (restrict && restrict.getAttribute("data-suggested")) {
      event.preventDefault();
      restrictNetworks(restrict);
      return;
    }
    var copy = target.closest("[data-copy]");
    if (copy) {
      event.preventDefault();
      copySecret(copy);
    }
  });

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-scope-main]")) syncPicker(target.closest("[data-scope-picker]"));
    if (target.matches("[data-expiry]")) syncExpiry(target);
    if (target.matches("[data-expiry-date]")) syncExpiry(target.form.querySelector("[data-expiry]"));
    if (target.matches("#scope-filter")) target.form.submit();
  });

  function init() {
    all("[data-scope-picker]").forEach(syncPicker);
    all("[data-expiry]").forEach(syncExpiry);

    // Closing a form dialog throws away what was typed (the server's values come back).
    all("dialog form").forEach(function (form) {
      var dialog = form.closest("dialog");
      dialog.addEventListener("close", function () {
        if (dialog.open || dialog.hasAttribute("data-autoshow")) return;
        form.reset();
        all("[data-scope-picker]", form).forEach(syncPicker);
        all("[data-expiry]", form).forEach(syncExpiry);
      });
    });

    all("dialog[data-autoshow]").forEach(function (dialog) {
      showModal(dialog);
      if (dialog.hasAttribute("data-secret-dialog")) {
        guardSecret(dialog);
      } else if (dialog.getAttribute("data-leave-to")) {
        dialog.addEventListener("close", function () {
          if (!dialog.open) window.location.replace(dialog.getAttribute("data-leave-to"));
        });
        all("[data-leave]", dialog).forEach(function (link) {
          link.addEventListener("click", function (event) {
            event.preventDefault();
            dialog.close();
          });
        });
      } else {
        dialog.addEventListener("close", function () {
          if (!dialog.open) dialog.removeAttribute("data-autoshow");
        });
      }
    });

    var secret = document.querySelector("[data-secret]");
    if (secret) secret.focus();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
