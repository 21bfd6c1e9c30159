// aigate console: the few behaviours a server-rendered page cannot have.
// Loaded from 'self' only (the Content-Security-Policy allows nothing else).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // "Create key" shows the creation form.
  const toggle = document.getElementById("create-toggle");
  const form = document.getElementById("create-form");
  if (toggle && form) {
    toggle.addEventListener("click", () => {
      form.hidden = !form.hidden;
      toggle.setAttribute("aria-expanded", String(!form.hidden));
      if (!form.hidden) document.getElementById("name").focus();
    });
  }
  // Copy buttons copy the text of the element they name.
  for (const b of document.querySelectorAll("button.copy")) {
    b.addEventListener("click", async () => {
      const text = document.getElementById(b.dataset.copy).textContent;
      try {
        await navigator.clipboard.writeText(text);
        b.textContent = "Copied";
      } catch {
        const range = document.createRange();
        range.selectNodeContents(document.getElementById(b.dataset.copy));
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        b.textContent = "Selected: press Ctrl+C";
      }
    });
  }
  // Usage: the "group by" checkboxes fill one comma-separated field.
  const groupBy = document.getElementById("group_by");
  if (groupBy) {
    const boxes = document.querySelectorAll("input.group");
    for (const box of boxes) {
      box.addEventListener("change", () => {
        groupBy.value = [...boxes].filter((x) => x.checked).map((x) => x.value).join(",");
      });
    }
  }
});
