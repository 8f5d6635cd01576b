// Placeholder: the page's code (helper web13ui replaces this file).
document.getElementById('app').dataset.ready = '1';
