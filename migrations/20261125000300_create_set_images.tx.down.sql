DROP TABLE set_images;
