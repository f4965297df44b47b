"""Real-looking (synthetic) Chinese names, weighted towards surnames common in Hunan."""

from __future__ import annotations

import random

_SURNAMES = (
    "刘" * 9
    + "李" * 8
    + "陈" * 7
    + "王" * 7
    + "张" * 6
    + "周" * 5
    + "罗" * 5
    + "彭" * 4
    + "唐" * 4
    + "邓" * 4
    + "谭" * 4
    + "黄" * 4
    + "曾" * 3
    + "吴" * 3
    + "胡" * 3
    + "贺" * 3
    + "蒋" * 3
    + "杨" * 3
    + "龙" * 2
    + "肖" * 2
    + "易" * 2
    + "文" * 2
    + "石" * 2
    + "向" * 2
    + "符"
    + "廖"
    + "田"
    + "颜"
    + "欧"
    + "谢"
    + "何"
    + "邹"
    + "朱"
    + "郭"
    + "段"
    + "雷"
    + "汤"
    + "戴"
    + "丁"
    + "匡"
    + "聂"
    + "毛"
    + "钟"
)
_COMPOUND = ("欧阳", "司马", "上官")
_GIVEN_M = "伟强军勇杰涛斌超明辉刚平建华国志文浩宇俊鹏飞亮磊峰海波永新春林晨旭阳"
_GIVEN_F = "芳娟敏静丽艳霞婷玉兰英红梅秀琴莉萍燕慧娜晶雪琳颖佳倩洁凤桂翠霞"
_GIVEN_ANY = "子一思嘉雨欣晓家宏德福春小金秋"
MINORITY_NAMES = (
    "阿依古丽·买买提",
    "古丽娜·阿不都",
    "艾力·吐尔逊",
    "热依拉·艾买提",
    "马丽娅·阿西木",
    "帕提古丽·热合曼",
)
# Homophones a clerk types by mistake (for PAY_NAME_MISMATCH).
HOMOPHONES = {
    "伟": "玮",
    "强": "墙",
    "军": "君",
    "芳": "方",
    "敏": "民",
    "静": "靜",
    "丽": "莉",
    "明": "铭",
    "辉": "晖",
    "华": "桦",
    "文": "雯",
    "杰": "洁",
    "林": "琳",
    "红": "宏",
    "英": "瑛",
    "平": "萍",
}


def make_name(rng: random.Random, male: bool) -> str:
    """Surname plus one or two given characters (about one name in five has two characters)."""
    rnd = rng.random
    r = rnd()
    surname = _COMPOUND[int(r * 1000) % 3] if r < 0.005 else _SURNAMES[int(rnd() * len(_SURNAMES))]
    pool = _GIVEN_M if male else _GIVEN_F
    if rnd() < 0.2:
        return surname + pool[int(rnd() * len(pool))]
    first = _GIVEN_ANY if rnd() < 0.3 else pool
    return surname + first[int(rnd() * len(first))] + pool[int(rnd() * len(pool))]


def misspell(name: str) -> str:
    """The same name with one character replaced by a homophone (or a common slip)."""
    for i in range(len(name) - 1, 0, -1):
        ch = name[i]
        if ch in HOMOPHONES:
            return name[:i] + HOMOPHONES[ch] + name[i + 1 :]
    return name[:-1] + ("玲" if name[-1] != "玲" else "琳")
