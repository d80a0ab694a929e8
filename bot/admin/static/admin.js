// Live filters for the learner table; without JavaScript the Filter button does the same.
"use strict";
document.querySelectorAll("form.filters select").forEach((select) => {
  select.addEventListener("change", () => select.form.submit());
});
const search = document.querySelector("form.filters input[name=q]");
const table = document.getElementById("learners");
if (search && table) {
  search.addEventListener("input", () => {
    const needle = search.value.trim().toLowerCase();
    table.querySelectorAll("tbody tr").forEach((row) => {
      row.hidden = needle !== "" && !row.textContent.toLowerCase().includes(needle);
    });
  });
}
